// The five workloads of benchmarks/pgboss_vs_node.py, run with the real pg-boss; prints JSON figures.
//
// stdin:  { connection: {...}, schema, jobs: 10000, latency_samples: 30, workloads?: [names] }
// stdout: the figures of the chosen workloads (all by default):
//         { send_per_s, insert_per_s, drain_batch_1_per_s, drain_batch_100_per_s, pickup_ms: [...] }

import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { PgBoss } from 'pg-boss'

const input = JSON.parse(readFileSync(0, 'utf8'))
const N = input.jobs

async function sendOneByOne (boss, queue) {
  const started = performance.now()
  for (let i = 0; i < N; i++) await boss.send(queue, { i })
  return N / ((performance.now() - started) / 1000)
}

async function insertBulk (boss, queue) {
  const jobs = Array.from({ length: N }, (_, i) => ({ data: { i } }))
  const started = performance.now()
  await boss.insert(queue, jobs)
  return N / ((performance.now() - started) / 1000)
}

async function drain (boss, queue, batchSize) {
  const started = performance.now()
  let drained = 0
  for (;;) {
    const jobs = await boss.fetch(queue, { batchSize })
    if (jobs.length === 0) break
    await boss.complete(queue, jobs.map(job => job.id))
    drained += jobs.length
  }
  if (drained !== N) throw new Error(`drained ${drained} of ${N}`)
  return N / ((performance.now() - started) / 1000)
}

async function pickupLatencies (boss, queue) {
  const latencies = []
  let sentAt = 0
  let handled = null
  await boss.work(queue, async () => { handled?.(performance.now() - sentAt) })
  await sleep(500)
  for (let i = 0; i < input.latency_samples; i++) {
    // An idle worker: wait a varying while so the send lands at a random phase of its poll cycle.
    await sleep(50 + Math.random() * 150)
    const picked = new Promise(resolve => { handled = resolve })
    sentAt = performance.now()
    await boss.send(queue, { i })
    latencies.push(await picked)
  }
  await boss.offWork(queue)
  return latencies
}

async function main () {
  const boss = new PgBoss({
    ...input.connection,
    schema: input.schema,
    supervise: false,
    schedule: false,
    useListenNotify: true
  })
  boss.on('error', error => process.stderr.write(`pg-boss error: ${error.stack ?? error}\n`))
  await boss.start()
  for (const queue of ['send', 'insert', 'drain1', 'drain100', 'pickup']) {
    await boss.createQueue(queue, { notify: true })
  }
  const prefill = queue => boss.insert(queue, Array.from({ length: N }, (_, i) => ({ data: { i } })))
  const workloads = {
    send_per_s: () => sendOneByOne(boss, 'send'),
    insert_per_s: () => insertBulk(boss, 'insert'),
    drain_batch_1_per_s: async () => { await prefill('drain1'); return drain(boss, 'drain1', 1) },
    drain_batch_100_per_s: async () => { await prefill('drain100'); return drain(boss, 'drain100', 100) },
    pickup_ms: () => pickupLatencies(boss, 'pickup')
  }
  const figures = {}
  for (const name of input.workloads ?? Object.keys(workloads)) figures[name] = await workloads[name]()
  await boss.stop({ graceful: true, timeout: 2000 })
  process.stdout.write(JSON.stringify(figures))
}

main().catch(error => {
  process.stderr.write(`${error.stack ?? error}\n`)
  process.exit(1)
})
