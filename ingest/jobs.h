/*
 * jobs: the worker threads that run HTTP API requests (api.h) off the
 * WebSocket thread, whose event loop must never wait for argon2id or
 * MongoDB. The WebSocket thread submits a job; a worker fills in the
 * response and puts the job on a done list; the first job on an empty list
 * calls notify (which wakes the WebSocket thread); that thread takes the
 * list and writes the responses. Prefix: ingest_jobs_.
 */
#ifndef INGEST_JOBS_H
#define INGEST_JOBS_H

#include "ingest/api.h"

typedef struct ingest_job {
    struct ingest_job *next;
    void *session; /* the HTTP connection; set to NULL by its owner when it closes */
    ingest_api_request req;
    ingest_api_response resp;
} ingest_job;

typedef struct ingest_jobs ingest_jobs;
typedef void (*ingest_jobs_notify_fn)(void *userdata);

/* Starts `threads` workers serving api (borrowed). NULL on failure. */
ingest_jobs *ingest_jobs_new(int threads, ingest_api *api, ingest_jobs_notify_fn notify,
                             void *userdata);

/* Finishes the queued jobs, stops the workers, frees jobs still on the done
 * list (their responses unsent). */
void ingest_jobs_free(ingest_jobs *jobs);

/* Replaces the notify function (NULL: none); the old one is not called after
 * this returns (workers call it under the pool's lock). */
void ingest_jobs_set_notify(ingest_jobs *jobs, ingest_jobs_notify_fn notify, void *userdata);

/* Queues job (owned by the pool until it comes back from take_done). */
void ingest_jobs_submit(ingest_jobs *jobs, ingest_job *job);

/* Every finished job, oldest first; the caller frees each with
 * ingest_job_free. */
ingest_job *ingest_jobs_take_done(ingest_jobs *jobs);

/* Jobs submitted and not yet taken back. */
int ingest_jobs_pending(ingest_jobs *jobs);

void ingest_job_free(ingest_job *job);

#endif
