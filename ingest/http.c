/*
 * http: HTTP API sessions on the lws thread. A request is read (path,
 * method, token, body up to INGEST_API_MAX_BODY), handed to the jobs
 * workers, and its response written when the worker is done; the thread
 * never blocks on argon2id or MongoDB. See server_internal.h and api.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/ws_auth.h"
#include "common/ws_http.h"
#include "ingest/server_internal.h"

/* Answers at once (no worker needed) and ends the transaction. */
static int answer_now(ingest_server *srv, struct lws *wsi, const char *route, unsigned int status,
                      const char *code, const char *message)
{
    ingest_metrics_http(srv->deps.metrics, route, status);
    if (wshttp_send_error(wsi, status, code, message) != 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int ingest_http_request(ingest_server *srv, ingest_session *ss, struct lws *wsi, const char *path)
{
    ss->wsi = wsi;
    if (ss->job) /* a pipelined request while the previous one is served */
        return answer_now(srv, wsi, "other", 429, "busy", "one request at a time per connection");
    if (srv->draining)
        return answer_now(srv, wsi, "other", 503, "shutting_down", "this node is draining");
    if (!ingest_api_known_path(path))
        return answer_now(srv, wsi, "other", 404, "not_found", "no such resource");

    ingest_job *job = calloc(1, sizeof *job);
    if (!job)
        return answer_now(srv, wsi, "other", 500, "internal", "out of memory");
    job->session = ss;
    job->req.method = wshttp_request_method(wsi);
    size_t n = strlen(path);
    if (n >= sizeof job->req.path)
        n = sizeof job->req.path - 1;
    memcpy(job->req.path, path, n);
    job->req.path[n] = '\0';
    if (strcmp(path, "/v1/login") != 0) {
        wsauth_result auth;
        int64_t now = util_wall_ns() / 1000000000LL;
        if (wsauth_authenticate(wsi, srv->deps.keys, now, &auth) == WSAUTH_OK) {
            job->req.authenticated = 1;
            size_t len = strlen(auth.claims.sub);
            if (len >= sizeof job->req.user_id)
                len = sizeof job->req.user_id - 1;
            memcpy(job->req.user_id, auth.claims.sub, len);
            job->req.user_id[len] = '\0';
        } else {
            /* The reason strings are static: safe to keep past the result. */
            job->req.auth_reason = wsauth_reason(&auth);
            ingest_metrics_auth_failure(srv->deps.metrics, job->req.auth_reason);
        }
        wsauth_result_clear(&auth);
    }
    ss->job = job;
    ss->job_submitted = false;
    ss->job_done = false;
    ss->body_too_large = false;
    if (job->req.method == WSHTTP_POST || job->req.method == WSHTTP_PUT)
        return 0; /* the body follows: LWS_CALLBACK_HTTP_BODY(_COMPLETION) */
    ss->job_submitted = true;
    ingest_jobs_submit(srv->jobs, job);
    return 0;
}

int ingest_http_body(ingest_server *srv, ingest_session *ss, const void *in, size_t len)
{
    (void)srv;
    ingest_job *job = ss->job;
    if (!job || ss->job_submitted || ss->body_too_large || len == 0)
        return 0;
    ingest_api_request *req = &job->req;
    if (req->body_len + len > INGEST_API_MAX_BODY) {
        ss->body_too_large = true;
        return 0;
    }
    char *p = realloc(req->body, req->body_len + len + 1);
    if (!p)
        return -1;
    memcpy(p + req->body_len, in, len);
    req->body = p;
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return 0;
}

int ingest_http_body_done(ingest_server *srv, ingest_session *ss)
{
    ingest_job *job = ss->job;
    if (!job || ss->job_submitted)
        return 0;
    if (ss->body_too_large) {
        ss->job = NULL;
        ingest_job_free(job);
        return answer_now(srv, ss->wsi, "other", 413, "payload_too_large",
                          "the request body exceeds 64 KiB");
    }
    ss->job_submitted = true;
    ingest_jobs_submit(srv->jobs, job);
    return 0;
}

int ingest_http_writeable(ingest_server *srv, ingest_session *ss)
{
    ingest_job *job = ss->job;
    if (!job || !ss->job_done)
        return 0;
    ss->job = NULL;
    ingest_metrics_http(srv->deps.metrics, job->resp.route ? job->resp.route : "other",
                        job->resp.status);
    int rc = wshttp_send(ss->wsi, job->resp.status, "application/json", job->resp.body,
                         job->resp.body_len);
    ingest_job_free(job);
    if (rc != 0)
        return -1;
    return lws_http_transaction_completed(ss->wsi) ? -1 : 0;
}

void ingest_http_closed(ingest_server *srv, ingest_session *ss)
{
    (void)srv;
    ingest_job *job = ss->job;
    ss->job = NULL;
    if (!job)
        return;
    if (ss->job_submitted && !ss->job_done)
        job->session = NULL; /* the worker has it: freed when it comes back */
    else
        ingest_job_free(job); /* never submitted, or back and owned by us */
}

void ingest_http_answer_done(ingest_server *srv)
{
    ingest_job *job = ingest_jobs_take_done(srv->jobs);
    while (job) {
        ingest_job *next = job->next;
        job->next = NULL;
        ingest_session *ss = job->session;
        if (ss) {
            ss->job_done = true;
            /* The response is written when the socket can take it. */
            lws_callback_on_writable(ss->wsi);
        } else {
            ingest_job_free(job);
        }
        job = next;
    }
}
