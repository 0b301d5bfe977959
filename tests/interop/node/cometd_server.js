'use strict';
// cometd-nodejs-server 1.2.1 (the official CometD server for Node) as a third-party Bayeux
// peer for the interop tests: long-polling only, with the acknowledgement extension.
// Usage: node cometd_server.js [--timeout MS] [--max-interval MS] [--port N]
// Listens on 127.0.0.1 (an ephemeral port unless --port), endpoint /cometd, and prints {"port": N} once listening.
// Test-only control endpoints on the same port:
//   POST /control/publish?channel=/x[&count=N]   body: JSON object -> server-side publish
//                                       (with count: N messages, each with "n": 0..N-1, in order)
//   POST /control/drop                  -> disconnect every session (the server "lost" them)
//   GET  /control/seen                  -> headers of the last Bayeux request per channel
const http = require('http');
const cometd = require('cometd-nodejs-server');
const {AcknowledgedMessagesExtension} = require('cometd-nodejs-server/ack-extension');

function option(name, fallback) {
    const at = process.argv.indexOf(name);
    return at >= 0 ? process.argv[at + 1] : fallback;
}

const bayeux = cometd.createCometDServer({
    timeout: Number(option('--timeout', '5000')),
    maxInterval: Number(option('--max-interval', '10000')),
});
bayeux.addExtension(new AcknowledgedMessagesExtension());
const sessions = new Map();
const seen = {};
bayeux.addListener('sessionAdded', (session) => sessions.set(session.id, session));
bayeux.addListener('sessionRemoved', (session) => sessions.delete(session.id));
bayeux.addExtension({
    incoming(server, session, message, callback) {
        const request = bayeux.context.request;
        if (request && request.headers) {
            const h = request.headers;
            seen[message.channel] = {authorization: h.authorization || null, cookie: h.cookie || null,
                                     origin: h.origin || null, 'x-csrf-token': h['x-csrf-token'] || null};
        }
        callback(undefined, message);
    },
});

function body(request, done) {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
}

const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    const reply = (status, value) => {
        response.writeHead(status, {'Content-Type': 'application/json'});
        response.end(JSON.stringify(value));
    };
    if (url.pathname.startsWith('/cometd')) {
        bayeux.handle(request, response);
    } else if (url.pathname === '/control/publish') {
        body(request, (text) => {
            const channel = bayeux.createServerChannel(url.searchParams.get('channel'));
            const data = JSON.parse(text);
            const count = url.searchParams.get('count');
            if (count === null) {
                channel.publish(null, data);
            } else {
                for (let n = 0; n < Number(count); ++n) channel.publish(null, {...data, n});
            }
            reply(200, {published: count === null ? 1 : Number(count)});
        });
    } else if (url.pathname === '/control/drop') {
        const all = [...sessions.values()];
        all.forEach((session) => session.disconnect());
        reply(200, {dropped: all.length});
    } else if (url.pathname === '/control/seen') {
        reply(200, seen);
    } else {
        reply(404, {error: 'not found'});
    }
});
server.listen(Number(option('--port', '0')), '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({port: server.address().port}) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
