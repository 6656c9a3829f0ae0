// A local atproto network for tests: a did:plc directory (in-memory) and Bluesky's
// reference PDS, both on loopback. See DESIGN §7.
//
// Usage: node network.mjs [--plc-port N] [--pds-port N] [--data-dir DIR] [--ignore-stdin]
//
// Once both services answer, exactly one JSON line goes to stdout:
//   {"plcUrl":"http://localhost:P","pdsUrl":"http://localhost:Q","pdsDid":"did:web:localhost"}
// Everything else goes to stderr. The process stops cleanly on SIGTERM/SIGINT and when
// its stdin closes, so a parent that dies (even by SIGKILL) never leaves it behind;
// --ignore-stdin turns the latter off for running it by hand with no stdin.
// The PDS keeps its data in DIR/pds and DIR/blobs, removed on exit along with DIR if
// that leaves it empty; without --data-dir, DIR is a fresh temporary folder. A parent
// that owns DIR can clean up after this process is SIGKILLed, which it cannot itself.

import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const HOST = '127.0.0.1'
const SHUTDOWN_GRACE_MS = 10_000
const READY_TIMEOUT_MS = 30_000

// The ready line is the only thing stdout may carry; anything a library prints with
// console.log would corrupt the protocol, so it goes to stderr instead.
const writeReadyLine = (line) => process.stdout.write(line + '\n')
console.log = console.error
console.info = console.error

const log = (...args) => console.error('[network]', ...args)

// A parent that dies closes our stdout/stderr pipes too; the resulting EPIPE must not
// become an uncaught exception (whose handler would log, fail again, and spin forever)
// and keep us from shutting down.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})

// The PDS needs Node 22 and fails obscurely on older ones; say so plainly.
const nodeMajor = Number(process.versions.node.split('.')[0])
if (nodeMajor < 22) {
  log(`Node ${process.version} is too old: the reference PDS needs Node >= 22 (run \`. scripts/node-env\`)`)
  process.exit(1)
}

const { values: args } = parseArgs({
  options: {
    'plc-port': { type: 'string', default: '0' },
    'pds-port': { type: 'string', default: '0' },
    'data-dir': { type: 'string' },
    'ignore-stdin': { type: 'boolean', default: false },
  },
})

const parsePort = (name) => {
  const raw = args[name]
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--${name} must be a port number, got ${JSON.stringify(raw)}`)
  }
  return port
}

// Logs from both services (pino, off unless LOG_ENABLED=true) default to stdout, which
// must carry nothing but the ready line. Only set a destination when logging is on: pino
// opens it asynchronously and throws from its exit hook if the process exits first.
if (/^(true|t|1)$/i.test(process.env.LOG_ENABLED ?? '')) {
  process.env.LOG_DESTINATION ??= '/dev/stderr'
}

const dataRoot = args['data-dir'] ?? mkdtempSync(join(tmpdir(), 'greenlight-network-'))
// Only what this process made is removed: a --data-dir folder itself belongs to the caller.
const dataDirs = args['data-dir']
  ? [join(dataRoot, 'pds'), join(dataRoot, 'blobs')]
  : [dataRoot]
let dataRemoved = false
const removeData = () => {
  if (dataRemoved) return
  dataRemoved = true
  for (const dir of dataDirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch (err) {
      log(`could not remove ${dir}:`, err)
    }
  }
  // A --data-dir left empty goes too, so a parent killed before its own cleanup leaves
  // nothing behind; one holding anything else is kept.
  try {
    rmdirSync(dataRoot)
  } catch {}
}
// Last resort for paths that end the process without running shutdown().
process.on('exit', removeData)

const stopController = new AbortController()
let stopPlc = null
let pdsRun = null
let shuttingDown = false

const shutdown = async (reason, code = 0) => {
  if (shuttingDown) return
  shuttingDown = true
  log(`stopping (${reason})`)
  const forced = setTimeout(() => {
    log('shutdown took too long; exiting anyway')
    removeData()
    process.exit(code || 1)
  }, SHUTDOWN_GRACE_MS)
  forced.unref()
  stopController.abort()
  try {
    await pdsRun?.catch(() => {})
    await stopPlc?.()
  } catch (err) {
    log('error while stopping:', err)
    code ||= 1
  }
  removeData()
  process.exit(code)
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => void shutdown(sig))
}
process.on('uncaughtException', (err) => {
  log('uncaught exception:', err)
  void shutdown('uncaught exception', 1)
})
process.on('unhandledRejection', (err) => {
  log('unhandled rejection:', err)
  void shutdown('unhandled rejection', 1)
})

if (!args['ignore-stdin']) {
  process.stdin.on('data', () => {})
  process.stdin.on('end', () => void shutdown('stdin closed'))
  process.stdin.on('close', () => void shutdown('stdin closed'))
  process.stdin.on('error', () => void shutdown('stdin error'))
  process.stdin.resume()
}

// A port the OS says is free now. Another process could take it before we bind, so
// callers retry on EADDRINUSE.
const freePort = async () => {
  const probe = createServer()
  probe.listen(0, HOST)
  await once(probe, 'listening')
  const { port } = probe.address()
  probe.close()
  await once(probe, 'close')
  return port
}

// PDS.run() may wrap the listen error (a SuppressedError from its disposal), so look inside.
const isAddrInUse = (err, depth = 0) =>
  err != null &&
  depth < 5 &&
  (err.code === 'EADDRINUSE' ||
    [err.error, err.suppressed, err.cause].some((inner) => isAddrInUse(inner, depth + 1)))

// secp256k1 private key as hex, the form PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX takes.
const k256PrivateKeyHex = () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  const { d } = privateKey.export({ format: 'jwk' })
  return Buffer.from(d, 'base64url').toString('hex').padStart(64, '0')
}

const waitForHealth = async (url) => {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let last = null
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      if (res.ok) return
      last = `HTTP ${res.status}`
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} did not answer within ${READY_TIMEOUT_MS} ms: ${last}`)
}

const startPlc = async (port) => {
  const { PlcServer, Database } = (await import('@did-plc/server')).default
  const db = Database.mock()
  const plc = PlcServer.create({ db, port })
  // PlcServer.start() binds every interface; the network stays on loopback.
  const http = plc.app.listen(port, HOST)
  await Promise.race([
    once(http, 'listening'),
    once(http, 'error').then(([err]) => Promise.reject(err)),
  ])
  const stop = async () => {
    const closed = once(http, 'close')
    http.close()
    // Firehose-style long-lived connections would otherwise hold close() open.
    http.closeAllConnections()
    await closed
    await db.close()
  }
  return { stop, port: http.address().port }
}

// Starts the PDS through PDS.run(), resolving once it listens; the returned `run`
// promise settles when the PDS has stopped after stopController aborts.
const startPds = async (PDS, port, plcUrl) => {
  for (const key of Object.keys(process.env)) {
    // Inherited PDS_* settings (PDS_CRAWLERS above all) must not leak in.
    if (key.startsWith('PDS_')) delete process.env[key]
  }
  Object.assign(process.env, {
    PDS_HOSTNAME: 'localhost',
    PDS_PORT: String(port),
    PDS_DATA_DIRECTORY: join(dataRoot, 'pds'),
    PDS_BLOBSTORE_DISK_LOCATION: join(dataRoot, 'blobs'),
    PDS_DID_PLC_URL: plcUrl,
    PDS_JWT_SECRET: randomBytes(32).toString('hex'),
    PDS_ADMIN_PASSWORD: 'admin-pass',
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: k256PrivateKeyHex(),
    PDS_INVITE_REQUIRED: 'false',
    PDS_SERVICE_HANDLE_DOMAINS: '.test',
    PDS_DEV_MODE: 'true',
  })
  let pds = null
  let started
  const startedPromise = new Promise((resolve) => (started = resolve))
  const run = PDS.run({
    signal: stopController.signal,
    // Signals are handled here, so the whole network stops together.
    signals: [],
    onCreated: (created) => {
      pds = created
      // PDS.start() binds every interface; keep the network on loopback.
      const listen = created.app.listen.bind(created.app)
      created.app.listen = (p, ...rest) => listen(p, HOST, ...rest)
    },
    onStarted: () => started(),
  })
  const outcome = await Promise.race([
    startedPromise.then(() => 'started'),
    run.then(() => 'stopped'),
  ])
  if (outcome !== 'started') throw new Error('PDS stopped before it started')
  return { run, did: pds.ctx.cfg.service.did }
}

const main = async () => {
  mkdirSync(join(dataRoot, 'pds'), { recursive: true })
  mkdirSync(join(dataRoot, 'blobs'), { recursive: true })

  const plc = await startPlc(parsePort('plc-port'))
  stopPlc = plc.stop
  const plcUrl = `http://localhost:${plc.port}`
  log(`did:plc directory on ${plcUrl}`)

  // Imported only now: the PDS reads its logging env at import time.
  const { PDS } = await import('@atproto/pds')
  const requested = parsePort('pds-port')
  let pds = null
  for (let attempt = 1; pds === null; attempt++) {
    const port = requested || (await freePort())
    try {
      const started = await startPds(PDS, port, plcUrl)
      pds = { ...started, port }
    } catch (err) {
      if (requested || attempt >= 5 || !isAddrInUse(err)) throw err
      log(`port ${port} was taken; trying another`)
    }
  }
  pdsRun = pds.run
  const pdsUrl = `http://localhost:${pds.port}`
  log(`PDS on ${pdsUrl} (${pds.did}); data in ${dataRoot}`)

  await waitForHealth(`${plcUrl}/_health`)
  await waitForHealth(`${pdsUrl}/xrpc/_health`)
  if (shuttingDown) return
  writeReadyLine(JSON.stringify({ plcUrl, pdsUrl, pdsDid: pds.did }))
}

main().catch((err) => {
  log('failed to start:', err)
  void shutdown('startup failure', 1)
})
