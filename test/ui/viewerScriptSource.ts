// Functions of the browser script the viewer ships (VIEWER_SCRIPT), taken out of it to run
// here on their own: the tests check the code the page runs, not a copy.
import { VIEWER_SCRIPT } from '../../src/ui/viewerScript.js';

/** The source of one top-level function of the shipped script, by brace matching. */
export function functionSource(name: string): string {
  const start = VIEWER_SCRIPT.indexOf(`function ${name}(`);
  if (start < 0) throw new Error(`no function ${name} in the viewer script`);
  let depth = 0;
  for (let at = VIEWER_SCRIPT.indexOf('{', start); at < VIEWER_SCRIPT.length; at++) {
    if (VIEWER_SCRIPT[at] === '{') depth++;
    else if (VIEWER_SCRIPT[at] === '}' && --depth === 0) return VIEWER_SCRIPT.slice(start, at + 1);
  }
  throw new Error(`no end to function ${name} in the viewer script`);
}

/** The source of one top-level `var name = ...;` statement of the shipped script. */
export function varSource(name: string): string {
  const match = new RegExp(`var ${name} = [^\\n]*;`).exec(VIEWER_SCRIPT);
  if (!match) throw new Error(`no var ${name} in the viewer script`);
  return match[0];
}

/** A function of the shipped script, with the top-level vars it reads. */
export function scriptFunction<F>(name: string, vars: string[] = []): F {
  return new Function(`${vars.map(varSource).join('\n')}\n${functionSource(name)}\nreturn ${name};`)() as F;
}
