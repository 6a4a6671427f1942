/*
 * jobs: a fixed pool of worker threads with a to-do FIFO and a done FIFO,
 * both under one mutex (a few HTTP requests per second do not need more).
 * See jobs.h.
 */
#include "ingest/jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct ingest_jobs {
    ingest_api *api;
    ingest_jobs_notify_fn notify;
    void *userdata;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ingest_job *todo_head, *todo_tail;
    ingest_job *done_head, *done_tail;
    int pending;
    bool stopping;
    int thread_count;
    pthread_t *threads;
};

static void push(ingest_job **head, ingest_job **tail, ingest_job *job)
{
    job->next = NULL;
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

static void *worker(void *arg)
{
    ingest_jobs *jobs = arg;
    pthread_mutex_lock(&jobs->lock);
    for (;;) {
        while (!jobs->todo_head && !jobs->stopping)
            pthread_cond_wait(&jobs->cond, &jobs->lock);
        ingest_job *job = jobs->todo_head;
        if (!job)
            break;
        jobs->todo_head = job->next;
        if (!jobs->todo_head)
            jobs->todo_tail = NULL;
        pthread_mutex_unlock(&jobs->lock);

        ingest_api_handle(jobs->api, &job->req, &job->resp);

        pthread_mutex_lock(&jobs->lock);
        bool was_empty = jobs->done_head == NULL;
        push(&jobs->done_head, &jobs->done_tail, job);
        if (was_empty && jobs->notify)
            jobs->notify(jobs->userdata);
    }
    pthread_mutex_unlock(&jobs->lock);
    return NULL;
}

ingest_jobs *ingest_jobs_new(int threads, ingest_api *api, ingest_jobs_notify_fn notify,
                             void *userdata)
{
    ingest_jobs *jobs = calloc(1, sizeof *jobs);
    if (!jobs)
        return NULL;
    jobs->threads = calloc((size_t)threads, sizeof *jobs->threads);
    if (!jobs->threads) {
        free(jobs);
        return NULL;
    }
    jobs->api = api;
    jobs->notify = notify;
    jobs->userdata = userdata;
    pthread_mutex_init(&jobs->lock, NULL);
    pthread_cond_init(&jobs->cond, NULL);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&jobs->threads[i], NULL, worker, jobs) != 0)
            break;
        jobs->thread_count++;
    }
    if (jobs->thread_count == 0) {
        ingest_jobs_free(jobs);
        return NULL;
    }
    return jobs;
}

void ingest_job_free(ingest_job *job)
{
    if (!job)
        return;
    ingest_api_request_clear(&job->req);
    ingest_api_response_clear(&job->resp);
    free(job);
}

void ingest_jobs_free(ingest_jobs *jobs)
{
    if (!jobs)
        return;
    pthread_mutex_lock(&jobs->lock);
    jobs->stopping = true;
    pthread_cond_broadcast(&jobs->cond);
    pthread_mutex_unlock(&jobs->lock);
    for (int i = 0; i < jobs->thread_count; i++)
        pthread_join(jobs->threads[i], NULL);
    ingest_job *job = jobs->done_head;
    while (job) {
        ingest_job *next = job->next;
        ingest_job_free(job);
        job = next;
    }
    pthread_cond_destroy(&jobs->cond);
    pthread_mutex_destroy(&jobs->lock);
    free(jobs->threads);
    free(jobs);
}

void ingest_jobs_set_notify(ingest_jobs *jobs, ingest_jobs_notify_fn notify, void *userdata)
{
    pthread_mutex_lock(&jobs->lock);
    jobs->notify = notify;
    jobs->userdata = userdata;
    pthread_mutex_unlock(&jobs->lock);
}

void ingest_jobs_submit(ingest_jobs *jobs, ingest_job *job)
{
    pthread_mutex_lock(&jobs->lock);
    push(&jobs->todo_head, &jobs->todo_tail, job);
    jobs->pending++;
    pthread_cond_signal(&jobs->cond);
    pthread_mutex_unlock(&jobs->lock);
}

ingest_job *ingest_jobs_take_done(ingest_jobs *jobs)
{
    pthread_mutex_lock(&jobs->lock);
    ingest_job *list = jobs->done_head;
    jobs->done_head = jobs->done_tail = NULL;
    for (ingest_job *j = list; j; j = j->next)
        jobs->pending--;
    pthread_mutex_unlock(&jobs->lock);
    return list;
}

int ingest_jobs_pending(ingest_jobs *jobs)
{
    pthread_mutex_lock(&jobs->lock);
    int n = jobs->pending;
    pthread_mutex_unlock(&jobs->lock);
    return n;
}
