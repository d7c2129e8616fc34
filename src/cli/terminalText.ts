// Text from a journal or a database reaches an operator's terminal only escaped: a span
// name is written by whoever sends a request, and "\x1b]0;…\x07", "\x1b[2J" or a newline
// that forges a line must not act on the terminal or the reader (issue #12). Escaped:
// C0 controls, DEL, C1 controls (0x9b is an 8-bit CSI on some terminals), the line and
// paragraph separators, and the bidirectional overrides that reorder what is shown
// ("Trojan Source", CVE-2021-42574).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One line of plain text, whatever the value held: control characters shown as escapes. */
export function printable(value: unknown): string {
  return String(value).replace(UNSAFE, escapeChar);
}

/**
 * Text of several lines whose line breaks are its own (parseArgs' messages for an ambiguous
 * option span three): each line escaped as printable() does, the breaks kept.
 */
export function printableLines(value: string): string {
  return value.split('\n').map(printable).join('\n');
}

/**
 * JSON on one line. JSON.stringify escapes C0 controls already, but leaves DEL, C1 controls,
 * U+2028/9 and bidi overrides raw; those become \uXXXX escapes, so the line parses the same.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
