#!/usr/bin/env node
// Reference lexicon checks with @atproto/lexicon, for Greenlight's differential tests.
//
//   node lexicon-check.mjs load      [--lexicons DIR] [--external DIR]
//     Loads every lexicon document (the repository's lexicons/ plus the external ones
//     kept in crates/lexicon/external), checks each against the lexicon language and that
//     every ref resolves. Prints {"loaded": [nsids]}; exits 1 listing every problem.
//
//   node lexicon-check.mjs validate  [--lexicons DIR] [--external DIR]
//     Reads a JSON array of {"nsid", "record"} on stdin and prints a JSON array of
//     {"valid", "error"} verdicts, one per input, in order. Records are JSON, converted
//     with jsonToLex the way the reference PDS reads them ($link, $bytes, blobs).

import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lexicons, jsonToLex, parseLexiconDoc } from '@atproto/lexicon'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..', '..')

function parseArgs(argv) {
  const args = {
    mode: argv[0],
    lexicons: join(repo, 'lexicons'),
    external: join(repo, 'crates', 'lexicon', 'external'),
  }
  for (let i = 1; i < argv.length; i += 2) {
    const value = argv[i + 1]
    if (value === undefined) throw new Error(`missing value for ${argv[i]}`)
    if (argv[i] === '--lexicons') args.lexicons = resolve(value)
    else if (argv[i] === '--external') args.external = resolve(value)
    else throw new Error(`unknown option ${argv[i]}`)
  }
  return args
}

function jsonFiles(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...jsonFiles(path))
    else if (name.endsWith('.json')) out.push(path)
  }
  return out
}

// Every ref and union member inside a document, resolved against its id.
function* references(node, id) {
  if (Array.isArray(node)) {
    for (const item of node) yield* references(item, id)
    return
  }
  if (!node || typeof node !== 'object') return
  if (node.type === 'ref' && typeof node.ref === 'string') yield node.ref
  if (node.type === 'union' && Array.isArray(node.refs)) yield* node.refs
  for (const value of Object.values(node)) yield* references(value, id)
}

function loadAll(args) {
  const problems = []
  const lexicons = new Lexicons()
  const loaded = []
  const roots = [args.lexicons, args.external]
  for (const root of roots) {
    for (const file of jsonFiles(root)) {
      const name = relative(repo, file)
      let doc
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'))
      } catch (err) {
        problems.push(`${name}: not JSON: ${err.message}`)
        continue
      }
      try {
        parseLexiconDoc(doc)
      } catch (err) {
        const issues = err.issues
          ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
          : err.message
        problems.push(`${name}: invalid lexicon: ${issues}`)
        continue
      }
      // Lexicons.add rewrites refs in place; keep the original for the ref walk.
      const original = structuredClone(doc)
      try {
        lexicons.add(doc)
        loaded.push([original.id, original])
      } catch (err) {
        problems.push(`${name}: ${err.message}`)
      }
    }
  }
  for (const [id, doc] of loaded) {
    for (const ref of references(doc.defs, id)) {
      const uri = ref.startsWith('#') ? `lex:${id}${ref}` : `lex:${ref}`
      if (!lexicons.getDef(uri)) problems.push(`${id}: reference ${ref} does not resolve`)
    }
  }
  return { lexicons, loaded: loaded.map(([id]) => id).sort(), problems }
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const { lexicons, loaded, problems } = loadAll(args)
  if (args.mode === 'load') {
    if (problems.length > 0) {
      for (const problem of problems) console.error(problem)
      process.exit(1)
    }
    process.stdout.write(JSON.stringify({ loaded }) + '\n')
    return
  }
  if (args.mode !== 'validate') {
    throw new Error('usage: lexicon-check.mjs load|validate [--lexicons DIR] [--external DIR]')
  }
  if (problems.length > 0) {
    for (const problem of problems) console.error(problem)
    process.exit(1)
  }
  const cases = JSON.parse(await readStdin())
  const verdicts = cases.map(({ nsid, record }) => {
    try {
      lexicons.assertValidRecord(nsid, jsonToLex(record))
      return { valid: true, error: null }
    } catch (err) {
      return { valid: false, error: String(err?.message ?? err) }
    }
  })
  process.stdout.write(JSON.stringify(verdicts) + '\n')
}

main().catch((err) => {
  console.error(err?.stack ?? String(err))
  process.exit(2)
})
