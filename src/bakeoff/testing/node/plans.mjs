// Prints pg-boss's construction DDL and schema version for a schema name read from stdin JSON.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { getConstructionPlans } from 'pg-boss'

const input = JSON.parse(readFileSync(0, 'utf8'))
const require = createRequire(import.meta.url)
const manifest = require('pg-boss/dist/schema.json')
const pkg = JSON.parse(readFileSync(new URL('./node_modules/pg-boss/package.json', import.meta.url), 'utf8'))
process.stdout.write(JSON.stringify({
  pgboss_version: pkg.version,
  schema_version: manifest.version,
  construction_sql: getConstructionPlans(input.schema ?? 'pgboss'),
  manifest
}))
