// The official CometD JavaScript client (npm `cometd` 9 + `cometd-nodejs-client` 2)
// against a Bayeux server: handshake, subscribe, print every delivery.
//
// usage: node official_client.js <url> <long-polling|websocket> <ack|noack> <cookie> <authorization> [channel]
//
// Prints one JSON object per line on stdout:
//   {"event":"subscribed","transport":"websocket","ack":true}
//   {"event":"message","channel":"/v2/me/calls","data":{...},"ext":{...}}
//   {"event":"failure","channel":"/meta/handshake","message":{...}}
// Ends when stdin closes, on SIGTERM, or after 90 s.
//
// Credentials: long-polling sends `authorization` through the client's
// `requestHeaders` option; the websocket upgrade cannot take custom headers from
// the CometD client, so the `ws` constructor is wrapped to send the session
// cookie (and nothing else) on the upgrade request.
"use strict";

async function main() {
    const [url, transport, ackArg, cookie, authorization, channelArg] = process.argv.slice(2);
    if (!url || !["long-polling", "websocket"].includes(transport)) {
        process.stderr.write("usage: node official_client.js <url> <long-polling|websocket> <ack|noack> <cookie> <authorization> [channel]\n");
        process.exit(2);
    }
    const channel = channelArg || "/v2/me/calls";
    const useAck = ackArg === "ack";

    const adapter = await import("cometd-nodejs-client");
    adapter.adapt();
    const ws = await import("ws");
    // cometd-nodejs-client installs `ws` as window.WebSocket; pass the cookie on the upgrade
    global.window.WebSocket = class extends ws.WebSocket {
        constructor(address, protocols) {
            super(address, protocols, {headers: cookie ? {Cookie: cookie} : {}});
        }
    };
    const lib = await import("cometd");

    const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
    const cometd = new lib.CometD();
    if (transport === "websocket") {
        cometd.unregisterTransport("long-polling");
        cometd.unregisterTransport("callback-polling");
    } else {
        cometd.unregisterTransport("websocket");
        cometd.unregisterTransport("callback-polling");
    }
    let serverAck = null;
    if (useAck) {
        cometd.registerExtension("ack", new lib.AckExtension());
    }
    cometd.configure({
        url: url,
        logLevel: process.env.COMETD_LOG_LEVEL || "warn",
        requestHeaders: transport === "long-polling" && authorization ? {Authorization: authorization} : {},
    });
    for (const meta of ["/meta/handshake", "/meta/connect", "/meta/subscribe"]) {
        cometd.addListener(meta, (message) => {
            if (meta === "/meta/handshake" && message.successful) {
                serverAck = Boolean(message.ext && message.ext.ack === true);
            }
            if (!message.successful) {
                print({event: "failure", channel: meta, message: message});
            }
        });
    }

    let stopping = false;
    const stop = () => {
        if (stopping) {
            return;
        }
        stopping = true;
        const done = () => process.exit(0);
        setTimeout(done, 2000).unref();
        cometd.disconnect(done);
    };
    process.stdin.on("end", stop);
    process.stdin.on("close", stop);
    process.stdin.resume();
    process.on("SIGTERM", stop);
    setTimeout(stop, 90000).unref();

    cometd.handshake((reply) => {
        if (!reply.successful) {
            return;  // the listener above printed the failure
        }
        cometd.subscribe(channel, (message) => {
            print({event: "message", channel: message.channel, data: message.data, ext: message.ext || null});
        }, (subscribeReply) => {
            if (subscribeReply.successful) {
                print({event: "subscribed", transport: cometd.getTransport().type, ack: serverAck});
            }
        });
    });
}

main().catch((error) => {
    process.stderr.write(String(error && error.stack || error) + "\n");
    process.exit(1);
});
