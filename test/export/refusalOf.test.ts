// Which exporter failures say the data was refused for good (and are worth isolating),
// against the error OpenTelemetry JS's OTLP exporters really fail with.
import { OTLPExporterError } from '@opentelemetry/otlp-exporter-base';
import { describe, expect, it } from 'vitest';
import { refusalOf } from '../../src/export/refusalOf.js';

/** A @grpc/grpc-js ServiceError: an Error with a numeric status code and details. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

describe('refusalOf', () => {
  it('names the OTLP answers that refuse the data: HTTP 400, 413, 422; gRPC INVALID_ARGUMENT, a message over the limit', () => {
    expect(refusalOf(new OTLPExporterError('Bad Request', 400, 'invalid span'))).toBe('HTTP 400 Bad Request');
    expect(refusalOf(new OTLPExporterError('Payload Too Large', 413))).toBe('HTTP 413 Content Too Large');
    expect(refusalOf(new OTLPExporterError('Unprocessable Entity', 422))).toBe('HTTP 422 Unprocessable Content');
    expect(refusalOf(grpcError(3, 'invalid UTF-8 in a string'))).toBe('gRPC INVALID_ARGUMENT');
    expect(refusalOf(grpcError(8, 'Received message larger than max (5000000 vs. 4194304)'))).toBe('gRPC RESOURCE_EXHAUSTED (message larger than the limit)');
  });

  it('leaves what is not about the data to the retries: setup errors, throttling, outages, anything without a code', () => {
    for (const status of [401, 403, 404, 408, 429, 500, 502, 503]) expect(refusalOf(new OTLPExporterError('no', status))).toBeUndefined();
    expect(refusalOf(grpcError(8, 'rate limited'))).toBeUndefined();
    for (const code of [1, 4, 7, 13, 14, 16]) expect(refusalOf(grpcError(code, 'no'))).toBeUndefined();
    expect(refusalOf(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(refusalOf(new Error('export of 3 spans timed out after 30000 ms'))).toBeUndefined();
    expect(refusalOf(undefined)).toBeUndefined();
    expect(refusalOf({ code: 400.5 })).toBeUndefined();
  });
});
