// Runs a scripted scenario with the real pg-boss and prints JSON results (bakeoff's differential oracle).
//
// stdin:  { connection: {host, port, database, user, password?}, boss_options?: {...},
//           sql: { advance_time, dumps?: { name: query }, reset? },
//           scenarios: [ { schema, ops: [ { op, ... }, ... ], boss_options? }, ... ] }
// stdout: { outcomes: [ { results: [ ... one per op ... ], refs: { ref: id }, rows: { name: [...] } } | { error } ] }
// (or, given { schema, ops } instead of scenarios, that one outcome.) After each scenario the `dumps`
// queries read its rows and `reset` empties the schema, so a batch can reuse one schema throughout.
//
// Scenario keys are snake_case (the Python port's names) and are turned into pg-boss's camelCase here.
// Jobs are named by scenario "refs": an op with `ref` records the id it produced; later ops name jobs
// by `refs: [...]`. Fetch results are reported as refs (an unknown id as "?"), so results compare
// across implementations whose ids differ.

import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { PgBoss } from 'pg-boss'

const input = JSON.parse(readFileSync(0, 'utf8'))
let refs = {}
let idToRef = new Map()
let currentSchema = null
let stopped = false

function camel (key) {
  return key.replace(/_([a-z])/g, (_, c) => c.toUpperCase())
}

function camelize (value) {
  if (Array.isArray(value)) return value.map(camelize)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), k === 'data' ? v : camelize(v)]))
}

function remember (ref, id) {
  if (ref && id) {
    refs[ref] = id
    idToRef.set(id, ref)
  }
}

function ids (step) {
  return (step.refs ?? []).map(ref => {
    if (!(ref in refs)) throw new Error(`unknown ref ${ref}`)
    return refs[ref]
  })
}

function refOf (id) {
  return idToRef.get(id) ?? '?'
}

function outcome (response) {
  return { requested: response.requested, affected: response.affected }
}

async function runWorker (boss, step) {
  const handled = []
  const options = camelize({ batch_size: 1, polling_interval_seconds: 0.5, ...(step.options ?? {}) })
  const id = await boss.work(step.name, options, async jobs => {
    handled.push(...jobs.map(job => refOf(job.id)))
    if (step.behavior === 'throw') throw new Error(step.message ?? 'handler failed')
    if (step.behavior === 'sleep') await sleep(step.sleep_ms)
    return step.output
  })
  const deadline = Date.now() + (step.timeout_ms ?? 10000)
  while (handled.length < (step.count ?? 1) && Date.now() < deadline) await sleep(25)
  // Let the last settle (complete/fail) land before stopping the worker.
  await boss.offWork(step.name, { id, wait: true })
  return handled
}

const ops = {
  create_queue: (boss, s) => boss.createQueue(s.name, camelize(s.options ?? {})).then(() => null),
  update_queue: (boss, s) => boss.updateQueue(s.name, camelize(s.options ?? {})).then(() => null),
  delete_queue: (boss, s) => boss.deleteQueue(s.name).then(() => null),
  send: async (boss, s) => {
    const id = await boss.send(s.name, s.data ?? null, camelize(s.options ?? {}))
    remember(s.ref, id)
    return id === null ? null : 'id'
  },
  send_after: async (boss, s) => {
    const id = await boss.sendAfter(s.name, s.data ?? null, camelize(s.options ?? {}), s.start_after)
    remember(s.ref, id)
    return id === null ? null : 'id'
  },
  send_throttled: async (boss, s) => {
    const id = await boss.sendThrottled(s.name, s.data ?? null, camelize(s.options ?? {}), s.seconds, s.key)
    remember(s.ref, id)
    return id === null ? null : 'id'
  },
  send_debounced: async (boss, s) => {
    const id = await boss.sendDebounced(s.name, s.data ?? null, camelize(s.options ?? {}), s.seconds, s.key)
    remember(s.ref, id)
    return id === null ? null : 'id'
  },
  insert: async (boss, s) => {
    const jobs = s.jobs.map(job => camelize(job))
    const returned = await boss.insert(s.name, jobs, { returnId: !!s.return_id })
    if (returned) s.jobs.forEach((job, i) => remember(job.ref, returned[i]))
    return returned === null ? null : returned.length
  },
  fetch: async (boss, s) => {
    const jobs = await boss.fetch(s.name, camelize(s.options ?? {}))
    jobs.forEach((job, i) => { if (s.as && s.as[i]) remember(s.as[i], job.id) })
    if (s.fields) return jobs.map(job => Object.fromEntries(s.fields.map(f => [f, job[camel(f)] ?? null])))
    return jobs.map(job => refOf(job.id))
  },
  complete: async (boss, s) => outcome(await boss.complete(s.name, ids(s), s.output ?? null, camelize(s.options ?? {}))),
  fail: async (boss, s) => outcome(await boss.fail(s.name, ids(s), s.output ?? null)),
  cancel: async (boss, s) => outcome(await boss.cancel(s.name, ids(s))),
  resume: async (boss, s) => outcome(await boss.resume(s.name, ids(s))),
  retry: async (boss, s) => outcome(await boss.retry(s.name, ids(s))),
  delete_job: async (boss, s) => outcome(await boss.deleteJob(s.name, ids(s))),
  touch: async (boss, s) => outcome(await boss.touch(s.name, ids(s))),
  redrive: (boss, s) => boss.redrive(s.name, camelize(s.options ?? {})),
  subscribe: (boss, s) => boss.subscribe(s.event, s.name).then(() => null),
  unsubscribe: (boss, s) => boss.unsubscribe(s.event, s.name).then(() => null),
  publish: (boss, s) => boss.publish(s.event, s.data ?? null, camelize(s.options ?? {})).then(() => null),
  schedule: (boss, s) => boss.schedule(s.name, s.cron, s.data ?? null, camelize(s.options ?? {})).then(() => null),
  unschedule: (boss, s) => boss.unschedule(s.name, s.key ?? '').then(() => null),
  supervise: (boss, s) => boss.supervise(s.name).then(() => null),
  advance: async (boss, s) => {
    // "Advance time" for one queue: every timestamp of its jobs moves back, so nothing sleeps.
    const sql = input.sql.advance_time.replaceAll('{schema}', currentSchema)
    await boss.getDb().executeSql(sql, [s.name, s.seconds])
    return null
  },
  work: (boss, s) => runWorker(boss, s),
  // Stop while a handler is still running: pg-boss fails the held jobs ("shut down while active").
  stop_while_active: async (boss, s) => {
    let entered
    const started = new Promise(resolve => { entered = resolve })
    await boss.work(s.name, { pollingIntervalSeconds: 0.5 }, async () => { entered(); await sleep(s.sleep_ms) })
    await started
    await boss.stop({ graceful: true, timeout: s.timeout_ms })
    stopped = true
    return null
  },
  find: async (boss, s) => {
    const job = await boss.getJobById(s.name, refs[s.ref])
    return job === null
      ? null
      : { state: job.state, retry_count: job.retryCount, retry_limit: job.retryLimit, data: job.data, output: job.output }
  },
  detect_drift: async boss => boss.detectSchemaDrift(),
  // Name ids created by the other implementation, so later ops can refer to them.
  bind: (boss, s) => { Object.entries(s.refs).forEach(([ref, id]) => remember(ref, id)); return null },
  // Wait (bounded) until a queue holds at least `count` jobs, e.g. fired by a schedule or a publish.
  wait_for_jobs: async (boss, s) => {
    const deadline = Date.now() + (s.timeout_ms ?? 15000)
    let jobs = []
    while (Date.now() < deadline) {
      jobs = await boss.findJobs(s.name)
      if (jobs.length >= (s.count ?? 1)) break
      await sleep(100)
    }
    return jobs.map(job => ({ data: job.data, state: job.state }))
  },
  get_schedules: async (boss, s) => (await boss.getSchedules(s.name)).map(x => ({ name: x.name, key: x.key, cron: x.cron, timezone: x.timezone, data: x.data })),
  stats: async (boss, s) => {
    const stats = await boss.getQueueStats(s.name, { force: true })
    return stats.length ? stats[0] : null
  },
  sleep: async (boss, s) => { await sleep(s.ms); return null }
}

async function runScenario (scenario) {
  refs = {}
  idToRef = new Map()
  currentSchema = scenario.schema
  stopped = false
  const boss = new PgBoss({
    ...input.connection,
    schema: scenario.schema,
    max: 4,
    supervise: false,
    schedule: false,
    ...camelize(input.boss_options ?? {}),
    ...camelize(scenario.boss_options ?? {})
  })
  boss.on('error', error => process.stderr.write(`pg-boss error: ${error.stack ?? error}\n`))
  await boss.start()
  const results = []
  try {
    for (const step of scenario.ops) {
      const run = ops[step.op]
      if (!run) throw new Error(`unknown op ${step.op}`)
      try {
        results.push(await run(boss, step))
      } catch (error) {
        if (!step.expect_error) throw error
        results.push({ error: error.message })
      }
    }
    return { results, refs }
  } finally {
    if (!stopped) await boss.stop({ graceful: true, timeout: 1000 })
  }
}

// After a scenario: read its rows with the caller's dump queries, then empty the schema for the next.
async function dumpAndReset (client, schema) {
  const sql = text => text.replaceAll('{schema}', schema)
  const rows = {}
  for (const [name, query] of Object.entries(input.sql?.dumps ?? {})) {
    rows[name] = (await client.query(sql(query))).rows.map(row => row.row)
  }
  if (input.sql?.reset) await client.query(sql(input.sql.reset))
  return rows
}

async function runAndDump (client, scenario) {
  const outcome = await runScenario(scenario)
  outcome.rows = await dumpAndReset(client, scenario.schema)
  return outcome
}

// One process runs a whole batch of scenarios (each on its own schema), or one legacy single scenario.
async function main () {
  const client = new pg.Client(input.connection)
  await client.connect()
  try {
    if (input.scenarios) {
      const outcomes = []
      for (const scenario of input.scenarios) {
        try {
          outcomes.push(await runAndDump(client, scenario))
        } catch (error) {
          outcomes.push({ error: `${error.stack ?? error}` })
          if (input.sql?.reset) await client.query(input.sql.reset.replaceAll('{schema}', scenario.schema))
        }
      }
      process.stdout.write(JSON.stringify({ outcomes }))
    } else {
      const scenario = { schema: input.schema, ops: input.ops, boss_options: input.boss_options }
      process.stdout.write(JSON.stringify(await runAndDump(client, scenario)))
    }
  } finally {
    await client.end()
  }
}

main().catch(error => {
  process.stderr.write(`${error.stack ?? error}\n`)
  process.exit(1)
})
