#!/usr/bin/env node
/*
 * bcoin-regtest.js: start a bcoin 1.0.2 full node that speaks Bitcoin Core's regtest.
 *
 * Where it sits: chains/nodes/bcoin.py runs `node bcoin-regtest.js --flags...` (with
 * NODE_BACKEND=js) for por's integration tests, demo and benchmarks.
 *
 * bcoin's own regtest uses its own address prefixes (bech32 "rb", P2PKH 0x3c, ...). Core's
 * regtest uses bech32 "bcrt", P2PKH 0x6f (m/n...), P2SH 0xc4 (2...), WIF 0xef, tpub/tprv.
 * Before any other bcoin module builds its Network objects, this script rewrites bcoin's
 * network table to Core's values and makes regtest the default network, so that
 * bcrt1q..., m/n... and 2... addresses are accepted and shown everywhere (RPC and REST).
 *
 * Options come from argv (`--http-port=...`) and from BCOIN_* environment variables; the
 * API key is read from BCOIN_API_KEY so that it never appears in the process list.
 */

'use strict';

const networks = require('bcoin/lib/protocol/networks');

Object.assign(networks.regtest.addressPrefix, {
  pubkeyhash: 0x6f,
  scripthash: 0xc4,
  witnesspubkeyhash: 0x03,
  witnessscripthash: 0x28,
  bech32: 'bcrt'
});

Object.assign(networks.regtest.keyPrefix, {
  privkey: 0xef,
  xpubkey: 0x043587cf,
  xprivkey: 0x04358394,
  xpubkey58: 'tpub',
  xprivkey58: 'tprv',
  coinType: 1
});

const Network = require('bcoin/lib/protocol/network');
Network.set('regtest');

const FullNode = require('bcoin/lib/node/fullnode');

const node = new FullNode({
  config: false,
  argv: true,
  env: true,
  network: 'regtest',
  memory: true,
  indexTX: true,
  indexAddress: true,
  workers: false,
  listen: false,
  logFile: false,
  logConsole: false,
  logLevel: 'warning'
});

// The key has been read into the config: keep it out of anything spawned later.
delete process.env.BCOIN_API_KEY;

if (node.network.type !== 'regtest') {
  console.error(`bcoin-regtest.js serves regtest only, not ${node.network.type}`);
  process.exit(2);
}

if (!node.config.bool('index-tx') || !node.config.bool('index-address')) {
  console.error('bcoin-regtest.js needs --index-tx=true and --index-address=true');
  process.exit(2);
}

if (node.config.bool('wallet', false)) {
  node.use(require('bcoin/lib/wallet/plugin'));
}

process.on('unhandledRejection', (err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});

const stop = async () => {
  try {
    await node.close();
  } finally {
    process.exit(0);
  }
};

process.on('SIGTERM', stop);
process.on('SIGINT', stop);

(async () => {
  await node.open();
  await node.connect();
  node.startSync();
  const http = node.http.address ? node.http.address() : null;
  console.log(`bcoin ${require('bcoin/package.json').version} regtest ready`
    + (http ? ` on ${http.address}:${http.port}` : ''));
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
