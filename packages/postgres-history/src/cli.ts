#!/usr/bin/env node
/**
 * `parley-postgres-history migrate --url postgres://... [--schema name] [--search-config simple]`: creates or updates
 * the history tables, the one step to run at deploy time before starting servers that use the store.
 */
import { parseArgs } from 'node:util'
import { passwordsOf, redact } from './history-error.js'
import { migrate } from './migrate.js'

const USAGE = `Usage: parley-postgres-history migrate [--url <postgres url>] [--schema <name>] [--search-config <name>]

Creates or updates the tables of @parley/postgres-history. Idempotent: running it again does nothing.

  --url            PostgreSQL connection string. Default: the DATABASE_URL environment variable
                   (which keeps the password out of the process list).
  --schema         Schema of the tables (created when missing). Default: public
  --search-config  Text search configuration of the search index (simple, english, ...), fixed at the first
                   migration. Default: simple
  --help           This text.`

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    console.error(`parley-postgres-history: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  if (positionals.length !== 1 || positionals[0] !== 'migrate') {
    console.error(`parley-postgres-history: expected the command "migrate", got ${positionals.length === 0 ? 'none' : `"${positionals.join(' ')}"`}\n\n${USAGE}`)
    return 2
  }
  const url = values.url ?? process.env['DATABASE_URL']
  if (url === undefined || url === '') {
    console.error(`parley-postgres-history: no database: give --url or set DATABASE_URL\n\n${USAGE}`)
    return 2
  }
  try {
    const result = await migrate({ url, schema: values.schema, searchConfig: values['search-config'] })
    const done = result.applied.length === 0 ? 'already up to date' : `applied version${result.applied.length === 1 ? '' : 's'} ${result.applied.join(', ')}`
    console.log(
      `parley-postgres-history: schema "${result.schema}" at version ${result.version} (${done}; search config "${result.searchConfig}") on ${redact(url)}`,
    )
    return 0
  } catch (error) {
    // Option and database errors already say who is speaking ("Parley postgres history: ...").
    const message = error instanceof Error ? error.message : String(error)
    console.error(redact(message.startsWith('Parley') ? message : `parley-postgres-history: ${message}`, passwordsOf(url)))
    return 1
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string' },
      schema: { type: 'string' },
      'search-config': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(redact(`parley-postgres-history: ${String(error)}`))
    process.exitCode = 1
  },
)
