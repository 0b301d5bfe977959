'use strict';
// faye 1.4.3 as a third-party Bayeux peer for the interop tests (long-polling and websocket).
// Usage: node faye_server.js [--timeout SECONDS] [--port N] [--tls-key PEM --tls-cert PEM]
// (with --tls-key/--tls-cert it serves https:// and wss://)
// Listens on 127.0.0.1 (an ephemeral port unless --port), mount /cometd, and prints {"port": N} once listening.
// Test-only control endpoints on the same port:
//   POST /control/publish?channel=/x[&count=N]   body: JSON object -> server-side publish
//                                       (with count: N messages, each with "n": 0..N-1, in order)
//   POST /control/drop                  -> destroy every client (the server "lost" them)
//   GET  /control/seen                  -> headers of the last Bayeux request per channel
// A handshake with the header X-Deny-Handshake is refused (403::handshake_denied).
const fs = require('fs');
const http = require('http');
const https = require('https');
const faye = require('faye');

function option(name, fallback) {
    const at = process.argv.indexOf(name);
    return at >= 0 ? process.argv[at + 1] : fallback;
}

const bayeux = new faye.NodeAdapter({mount: '/cometd', timeout: Number(option('--timeout', '5'))});
const clients = new Set();
const seen = {};
bayeux.on('handshake', (id) => clients.add(id));
bayeux.on('disconnect', (id) => clients.delete(id));
bayeux.addExtension({
    incoming(message, request, callback) {
        if (request && request.headers) {
            const h = request.headers;
            seen[message.channel] = {authorization: h.authorization || null, cookie: h.cookie || null,
                                     origin: h.origin || null, 'x-csrf-token': h['x-csrf-token'] || null};
            if (message.channel === '/meta/handshake' && h['x-deny-handshake']) {
                message.error = '403::handshake_denied';  // faye then refuses the handshake
            }
        }
        callback(message);
    },
});

function body(request, done) {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
}

const tls = option('--tls-key', null) === null ? null :
    {key: fs.readFileSync(option('--tls-key')), cert: fs.readFileSync(option('--tls-cert'))};
const handler = (request, response) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    const reply = (status, value) => {
        response.writeHead(status, {'Content-Type': 'application/json'});
        response.end(JSON.stringify(value));
    };
    if (url.pathname === '/control/publish') {
        body(request, (text) => {
            const channel = url.searchParams.get('channel');
            const data = JSON.parse(text);
            const count = url.searchParams.get('count');
            if (count === null) {
                bayeux.getClient().publish(channel, data)
                    .then(() => reply(200, {published: 1}), (e) => reply(500, {error: String(e)}));
                return;
            }
            const client = bayeux.getClient();
            const sendFrom = (n) => {
                if (n >= Number(count)) return reply(200, {published: n});
                client.publish(channel, {...data, n}).then(() => sendFrom(n + 1),
                                                             (e) => reply(500, {error: String(e)}));
            };
            sendFrom(0);
        });
    } else if (url.pathname === '/control/drop') {
        const engine = bayeux._server._engine;
        const ids = [...clients];
        ids.forEach((id) => engine.destroyClient(id));
        clients.clear();
        reply(200, {dropped: ids.length});
    } else if (url.pathname === '/control/seen') {
        reply(200, seen);
    } else {
        reply(404, {error: 'not found'});
    }
};
const server = tls === null ? http.createServer(handler) : https.createServer(tls, handler);
bayeux.attach(server);
server.listen(Number(option('--port', '0')), '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({port: server.address().port}) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
