// A node-media-server 4 instance used as an independent RTMP peer in interop tests.
// argv[2] = JSON {rtmpPort, httpPort, dataDir, relays: [{url, mode: 'push'|'pull', streamPath}]}
// Prints "NMS-READY" when listening. Relays retry until their source/target exists.
'use strict';
const NodeMediaServer = require('node-media-server');
const RtmpClientSession = require('node-media-server/src/session/rtmp_client_session.js');
const Context = require('node-media-server/src/core/context.js');

const cfg = JSON.parse(process.argv[2]);

// Probe mode: play cfg.probe.url with node-media-server's own RTMP client and report what
// arrives (type, first two body bytes, dts), then exit. No server is started.
function probe() {
  const RtmpClient = require('node-media-server/src/protocol/rtmp_client.js');
  const client = new RtmpClient();
  const packets = [];
  client.onPacketCallback = (p) => {
    if (packets.length < 2000)
      packets.push([p.codec_type, p.data.subarray(0, 2).toString('hex'), p.dts, p.size]);
  };
  (async () => {
    await client.connect(cfg.probe.url);
    await client.sendConnect();
    await client.sendCreateStream();
    client.sendPlay(client.urlInfo.streamName);
    setTimeout(() => {
      console.log(`PROBE ${JSON.stringify(packets)}`);
      client.disconnect();
      process.exit(0);
    }, cfg.probe.ms);
  })().catch((err) => {
    console.log(`PROBE-ERROR ${err.message}`);
    process.exit(1);
  });
}

function serve() {
  const nms = new NodeMediaServer({
    bind: '127.0.0.1',
    rtmp: { port: cfg.rtmpPort },
    http: { port: cfg.httpPort },
    store: { path: cfg.dataDir },
    record: { path: `${cfg.dataDir}/record` },
    webadmin: { enable: false },
    auth: { play: false, publish: false, secret: '', jwt: { secret: 'x', users: [] } },
    notify: { url: '' },
  });
  nms.run().then(() => {
    for (const r of cfg.relays || []) {
      // NMS's push relay gives up if its local source is not published yet, so wait for it.
      // Its push relay gives up if its local source is not published yet, so wait for it.
      const start = () => {
        const source = Context.broadcasts.get(r.streamPath);
        if (r.mode === 'push' && !source?.publisher) return setTimeout(start, 250);
        new RtmpClientSession({ ...r, reconnect: true, reconnectInterval: 500 }).run();
      };
      start();
    }
    setTimeout(() => console.log('NMS-READY'), 300);
  });
  const stop = () => nms.stop().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (cfg.probe) probe();
else serve();
