-- Row counts the bad-input suite compares before and after each rejected call (nothing half-written).

-- name: row_counts
-- Rows in every table a rejected call could have written to.
SELECT (SELECT count(*) FROM bakeoff.trial_jobs) AS trial_jobs,
       (SELECT count(*) FROM bakeoff.job_events) AS job_events,
       (SELECT count(*) FROM bakeoff.documents) AS documents,
       (SELECT count(*) FROM bakeoff.experiments) AS experiments,
       (SELECT count(*) FROM public.router_fake_jobs) AS fake_jobs,
       (SELECT count(*) FROM pgboss.job) AS pgboss_jobs,
       (SELECT count(*) FROM pgboss.queue) AS pgboss_queues,
       (SELECT count(*) FROM pgboss.schedule) AS pgboss_schedules,
       (SELECT count(*) FROM inngest.events) AS inngest_events
