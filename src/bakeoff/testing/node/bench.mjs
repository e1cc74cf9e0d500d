// One cell of benchmarks/pgboss_vs_node.py, run with the real pg-boss; prints JSON figures.
//
// stdin:  { connection: {...}, schema, application_name, queue, workload, jobs, concurrency, batch_size,
//           condition: 'fresh' | 'stale', latency_samples, clock_ticks,
//           sql: { truncate, analyze, backend_pids } }   (the benchmark's SQL, one place: benchmarks/*.sql)
// stdout: { value, jobs, client_cpu_s, server_cpu_s }
//         value: jobs/s for a throughput workload, the pickup latencies (ms) for 'pickup'.
//
// The cell runs on a fresh queue in an emptied job table. 'stale' analyses the table while it is empty
// and then fills it; 'fresh' fills it and then analyses. Only the workload itself is timed; its CPU is the
// Node process's (process.cpuUsage) and that of the PostgreSQL backends serving this instance's
// connections (found by application_name, read from /proc/<pid>/stat).

import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { PgBoss } from 'pg-boss'

const input = JSON.parse(readFileSync(0, 'utf8'))
const N = input.jobs
const QUEUE = input.queue

function procTicks (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12]) // utime + stime (fields 14 and 15 of the line)
  } catch {
    return null
  }
}

async function serverTicks (db) {
  const { rows } = await db.executeSql(input.sql.backend_pids, [input.application_name])
  const ticks = new Map()
  for (const { pid } of rows) {
    const value = procTicks(pid)
    if (value !== null) ticks.set(pid, value)
  }
  return ticks
}

function serverSeconds (before, after) {
  let total = 0
  // A backend that connected during the timed part (a pool growing) counts from zero.
  for (const [pid, value] of after) total += value - (before.get(pid) ?? 0)
  return total / input.clock_ticks
}

async function sendOneByOne (boss) {
  for (let i = 0; i < N; i++) await boss.send(QUEUE, { i })
  return N
}

async function insertBulk (boss) {
  await boss.insert(QUEUE, Array.from({ length: N }, (_, i) => ({ data: { i } })))
  return N
}

async function drainLoop (boss, batchSize) {
  let drained = 0
  for (;;) {
    const jobs = await boss.fetch(QUEUE, { batchSize })
    if (jobs.length === 0) return drained
    await boss.complete(QUEUE, jobs.map(job => job.id))
    drained += jobs.length
  }
}

async function drain (boss) {
  const loops = Array.from({ length: input.concurrency }, () => drainLoop(boss, input.batch_size))
  return (await Promise.all(loops)).reduce((a, b) => a + b, 0)
}

async function workNoop (boss) {
  let handled = 0
  let done
  const finished = new Promise(resolve => { done = resolve })
  await boss.work(QUEUE, {
    batchSize: input.batch_size,
    localConcurrency: input.concurrency,
    burstWhenBatchFull: true
  }, async jobs => {
    handled += jobs.length
    if (handled >= N) done()
  })
  await finished
  await boss.offWork(QUEUE, { wait: true })
  return handled
}

async function pickupLatencies (boss) {
  const latencies = []
  let sentAt = 0
  let handled = null
  await boss.work(QUEUE, async () => { handled?.(performance.now() - sentAt) })
  await sleep(500)
  for (let i = 0; i < input.latency_samples; i++) {
    // An idle worker: wait a varying while so the send lands at a random phase of its poll cycle.
    await sleep(50 + Math.random() * 150)
    const picked = new Promise(resolve => { handled = resolve })
    sentAt = performance.now()
    await boss.send(QUEUE, { i })
    latencies.push(await picked)
  }
  await boss.offWork(QUEUE, { wait: true })
  return latencies
}

const WORKLOADS = { send: sendOneByOne, insert: insertBulk, drain, work: workNoop, pickup: pickupLatencies }
const PREFILLED = new Set(['drain', 'work'])

async function main () {
  const boss = new PgBoss({
    ...input.connection,
    schema: input.schema,
    application_name: input.application_name,
    supervise: false,
    schedule: false,
    useListenNotify: true
  })
  boss.on('error', error => process.stderr.write(`pg-boss error: ${error.stack ?? error}\n`))
  await boss.start()
  const db = boss.getDb()
  await db.executeSql(input.sql.truncate)
  await boss.createQueue(QUEUE, { notify: true })
  if (input.condition === 'stale') await db.executeSql(input.sql.analyze)
  if (PREFILLED.has(input.workload)) {
    await boss.insert(QUEUE, Array.from({ length: N }, (_, i) => ({ data: { i } })))
  }
  if (input.condition === 'fresh') await db.executeSql(input.sql.analyze)

  const cpuBefore = process.cpuUsage()
  const ticksBefore = await serverTicks(db)
  const started = performance.now()
  const result = await WORKLOADS[input.workload](boss)
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  const ticksAfter = await serverTicks(db)

  if (input.workload !== 'pickup' && result !== N) throw new Error(`${input.workload}: ${result} of ${N} jobs`)
  await boss.stop({ graceful: true, timeout: 2000 })
  process.stdout.write(JSON.stringify({
    value: input.workload === 'pickup' ? result : N / seconds,
    jobs: input.workload === 'pickup' ? input.latency_samples : N,
    client_cpu_s: (cpu.user + cpu.system) / 1e6,
    server_cpu_s: serverSeconds(ticksBefore, ticksAfter)
  }))
}

main().catch(error => {
  process.stderr.write(`${error.stack ?? error}\n`)
  process.exit(1)
})
