// Whether an exporter's failure says the data it was given is refused for good: sending the
// same spans again can never succeed, though other spans would. OTLP exporters say so with
// the receiver's answer, which the OTLP specification tells clients not to retry:
// - OTLP/HTTP (OTLPExporterError's numeric `code`): 400 Bad Request (a value the receiver
//   cannot take), 413 Content Too Large (more than its request limit), 422 Unprocessable;
// - OTLP/gRPC (a ServiceError's `code`): INVALID_ARGUMENT, and RESOURCE_EXHAUSTED when it
//   says the message was larger than the limit (otherwise it is throttling, retryable).
// Answers about the exporter's setup (401, 403, 404, UNAUTHENTICATED, ...) are not about the
// data: every span would get them, so they are retried like an outage, and the spans wait
// in the journal until the setup is fixed. Any SpanExporter may fail with such an error.

const HTTP_REFUSALS: Readonly<Record<number, string>> = { 400: 'Bad Request', 413: 'Content Too Large', 422: 'Unprocessable Content' };
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_RESOURCE_EXHAUSTED = 8;

/** A short reason when `error` refuses the data for good ('HTTP 413 Content Too Large'), else undefined. */
export function refusalOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'number' || !Number.isInteger(code)) return undefined;
  if (code >= 100) return HTTP_REFUSALS[code] === undefined ? undefined : `HTTP ${code} ${HTTP_REFUSALS[code]}`;
  // gRPC status codes are 0–16; a ServiceError carries `details` beside its message.
  const details = (error as { details?: unknown }).details;
  const text = `${typeof details === 'string' ? details : ''} ${(error as { message?: unknown }).message ?? ''}`;
  if (code === GRPC_INVALID_ARGUMENT) return 'gRPC INVALID_ARGUMENT';
  if (code === GRPC_RESOURCE_EXHAUSTED && /larger than max/i.test(text)) return 'gRPC RESOURCE_EXHAUSTED (message larger than the limit)';
  return undefined;
}
