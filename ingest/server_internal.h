/*
 * server_internal: the structs the three parts of ingest's server share -
 * server.c (lws callback, loop, drain), conn.c (write connections) and
 * http.c (HTTP API sessions). Not for use outside ingest/server*.c,
 * conn.c and http.c. Everything here lives on the lws service thread.
 */
#ifndef INGEST_SERVER_INTERNAL_H
#define INGEST_SERVER_INTERNAL_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/awareness.h"
#include "common/doc_access.h"
#include "common/userstore.h"
#include "common/ws_frame.h"
#include "common/ws_outq.h"
#include "common/ws_server.h"
#include "ingest/ratelimit.h"
#include "ingest/server.h"

/* One write connection. Allocated when the upgrade is allowed; outlives the
 * socket while ops of it wait for their delivery report (inflight > 0). */
typedef struct ingest_conn {
    struct ingest_conn *prev, *next; /* the server's list of all records */
    struct lws *wsi;                 /* NULL once the socket closed */
    bool established;
    bool closing; /* ERROR sent: ignore input, close once the queue is written */
    char conn_id[33];
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    char user_id[USTORE_USER_ID_LEN + 1];
    ustore_role role;
    wsoutq out;
    int64_t out_since_ns; /* when out last turned non-empty: the write stage metric */
    uint8_t *rx;          /* the message being received */
    size_t rx_len, rx_cap;
    bool rx_oversized;
    bool rx_binary;
    ingest_bucket ops_bucket;
    ingest_bucket awareness_bucket;
    awareness_tracker presence;
    uint32_t inflight; /* ops produced and not yet answered */
} ingest_conn;

/* lws' per-session memory (zeroed by lws), for HTTP and WebSocket alike. */
typedef struct ingest_session {
    struct lws *wsi;
    ingest_conn *conn; /* WebSocket */
    ingest_job *job;   /* HTTP: the request being read, in a worker, or answered */
    bool job_submitted;
    bool job_done; /* the worker finished: the response may be written */
    bool body_too_large;
} ingest_session;

struct ingest_server {
    ingest_server_deps deps;
    wsserver *ws;
    op_producer *producer;
    ingest_jobs *jobs;
    docaccess *access;         /* roles on documents, cached (doc_access.h) */
    int64_t access_expired_ms; /* when expired answers were last dropped */
    ingest_conn *conns;        /* every record, open or waiting for answers */
    uint32_t open_conns;
    uint64_t inflight; /* ops of all connections waiting for delivery */
    bool draining;
    /* Parse target of the one thread that parses (16 KiB with its clock):
     * allocated once instead of on the stack of lws' callback chain. */
    wsframe_msg *scratch_msg;
};

/* conn.c */
int ingest_conn_confirm_upgrade(ingest_server *srv, struct lws *wsi);
int ingest_conn_established(ingest_server *srv, ingest_session *ss, struct lws *wsi);
int ingest_conn_receive(ingest_server *srv, ingest_conn *c, const void *in, size_t len);
int ingest_conn_writeable(ingest_server *srv, ingest_conn *c);
void ingest_conn_closed(ingest_server *srv, ingest_conn *c);
void ingest_conn_abandoned(ingest_server *srv, ingest_conn *c);
void ingest_conn_answer_done(ingest_server *srv);
void ingest_conn_shutdown_all(ingest_server *srv);
void ingest_conn_free_all(ingest_server *srv);
void ingest_conn_send_error(ingest_server *srv, ingest_conn *c, const char *code,
                            const char *message);

/* http.c */
int ingest_http_request(ingest_server *srv, ingest_session *ss, struct lws *wsi, const char *path);
int ingest_http_body(ingest_server *srv, ingest_session *ss, const void *in, size_t len);
int ingest_http_body_done(ingest_server *srv, ingest_session *ss);
int ingest_http_writeable(ingest_server *srv, ingest_session *ss);
void ingest_http_closed(ingest_server *srv, ingest_session *ss);
void ingest_http_answer_done(ingest_server *srv);

#endif
