// The waterfall's order, run from the script the viewer ships (VIEWER_SCRIPT), on spans as
// the API returns them: parents before children, and no span dropped, not even those whose
// parents form a cycle (ids a buggy tracer reused), nor a trace made of nothing else.
import { expect, test } from 'vitest';
import { scriptFunction } from './viewerScriptSource.js';

type Span = { span_id: string; parent_span_id: string | null; name: string };
const spanOrder = scriptFunction<(spans: Span[]) => { span: Span; depth: number }[]>('spanOrder');
const span = (name: string, parent: string | null): Span => ({ span_id: name, parent_span_id: parent, name });

test('parents come before their children, depth by depth', () => {
  const order = spanOrder([span('root', null), span('a', 'root'), span('b', 'root'), span('a1', 'a')]);
  expect(order.map(({ span: s, depth }) => `${s.name}@${depth}`)).toEqual(['root@0', 'a@1', 'a1@2', 'b@1']);
});

test('spans in a parent cycle are shown, not dropped, and a trace of only a cycle is not empty', () => {
  const cycle = [span('x', 'y'), span('y', 'x')];
  expect(spanOrder([span('root', null), ...cycle]).map(({ span: s }) => s.name).sort()).toEqual(['root', 'x', 'y']);
  expect(spanOrder(cycle).map(({ span: s }) => s.name).sort()).toEqual(['x', 'y']);
});
