// The demo's "checkout service": an HTTP server with nested spans, span events and a real
// PostgreSQL query per request, loaded with `node -r ../tracing.cjs`.
//   DEMO_MODE=crash    serve three carts, then die by SIGKILL in the middle of a checkout
//   DEMO_MODE=restart  start again (recovering the dead journal), serve one cart, stop cleanly
'use strict';
const http = require('node:http');
const api = require('@opentelemetry/api');
// The logs API is part of @opentelemetry/api from 1.10 (the 3.x line, whose NodeSDK registers
// its logger provider there); the 2.x line has it in @opentelemetry/api-logs.
const { logs, SeverityNumber } = api.logs ? api : require('@opentelemetry/api-logs');
const { trace, SpanStatusCode } = api;
const pg = require('pg');
const { sdk } = require('../tracing.cjs');

const tracer = trace.getTracer('checkout-service', '1.0.0');
const logger = logs.getLogger('checkout-service', '1.0.0');
const log = (severityNumber, severityText, body) => logger.emit({ severityNumber, severityText, body });
const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });

async function loadCart(id) {
  return tracer.startActiveSpan('load cart', { attributes: { 'cart.id': id } }, async (span) => {
    const { rows } = await db.query('SELECT $1::int * 2 AS items', [id]);
    span.addEvent('cart loaded', { 'cart.items': rows[0].items });
    tracer.startActiveSpan('price items', (pricing) => {
      pricing.setAttribute('currency', 'EUR');
      pricing.addEvent('discount applied', { percent: 10 });
      pricing.end();
    });
    span.end();
    return rows[0].items;
  });
}

function checkout() {
  tracer.startActiveSpan('charge card', { attributes: { 'payment.method': 'card' } }, (charge) => {
    charge.addEvent('card validated');
    log(SeverityNumber.INFO, 'INFO', 'charging card ending 4242, 59.90 EUR');
    tracer.startActiveSpan('call payment gateway', { attributes: { 'peer.service': 'acme-pay' } }, (gateway) => {
      gateway.addEvent('request sent');
      log(SeverityNumber.WARN, 'WARN', 'acme-pay slow to answer, retrying once');
      // The process dies here, mid-request: no exit handler, no flush, nothing.
      process.kill(process.pid, 'SIGKILL');
    });
  });
}

const server = http.createServer((request, response) => {
  const cart = /^\/cart\/(\d+)$/.exec(request.url);
  if (cart) {
    loadCart(Number(cart[1])).then(
      (items) => response.end(JSON.stringify({ items })),
      (error) => {
        trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        response.statusCode = 500;
        response.end();
      },
    );
  } else if (request.url === '/checkout') {
    checkout();
  } else {
    response.statusCode = 404;
    response.end();
  }
});

function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ port, path }, (response) => {
      response.resume();
      response.on('end', resolve);
    }).on('error', reject);
  });
}

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  if (process.env.DEMO_MODE === 'crash') {
    for (const id of [1, 2, 3]) await get(port, `/cart/${id}`);
    await get(port, '/checkout');
  } else {
    await get(port, '/cart/4');
    server.close();
    await db.end();
    await sdk.shutdown(); // waits for the recovery of the dead journal, then flushes
  }
});
