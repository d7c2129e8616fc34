/** A deterministic string of `length` UTF-16 units drawn from `alphabet` (see payloadTexts.mjs). */
export declare function text(length: number, alphabet: readonly string[], seed: number): string;
export declare const ascii: string[];
export declare const unicode: string[];
