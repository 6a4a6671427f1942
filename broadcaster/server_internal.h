/*
 * server_internal: the structs shared by server.c (lws callback, upgrade,
 * writes, loop) and channel.c (per-document ordering, history, states,
 * resync). Not for use outside those two files. Everything here lives on the
 * lws service thread.
 */
#ifndef BROADCASTER_SERVER_INTERNAL_H
#define BROADCASTER_SERVER_INTERNAL_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "broadcaster/msg.h"
#include "broadcaster/roster.h"
#include "broadcaster/server.h"
#include "common/strmap.h"
#include "common/userstore.h"
#include "common/ws_frame.h"
#include "common/ws_server.h"

typedef struct bcchan bcchan;

/* One read connection. Created when the upgrade is allowed; lives until the
 * socket closed and no loader job names it (jobs == 0). */
typedef struct bcsub {
    struct bcsub *all_prev, *all_next; /* the server's list of every record */
    struct bcsub *ch_prev, *ch_next;   /* the channel's subscribers */
    bcchan *ch;                        /* NULL until established, and after close */
    struct lws *wsi;                   /* NULL once the socket closed */
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    char user_id[USTORE_USER_ID_LEN + 1];
    bool has_since;
    uint64_t since;
    bcqueue q;
    uint64_t next;      /* the next version this subscriber gets; 0: waiting for a STATE */
    bool waiting_state; /* on its channel's wait for a state load */
    bool resuming;      /* the ?since= fetch is out: a STATE if it cannot be filled */
    bool fetching;      /* an ops job for this subscriber is out */
    bool closing;       /* ERROR queued: close once written */
    bool presence_sent; /* the subscribe-time AWARENESS went out (once per connection) */
    bool want_synced;   /* SYNCED is due once the cursor reaches what is known */
    bcmetrics_disconnect close_reason;
    int jobs;             /* loader jobs naming this record */
    int64_t gap_since_ms; /* when a gap MongoDB could not fill was first seen; 0: none */
    int slow_resyncs;     /* slow-consumer resyncs in the current window */
    int64_t slow_window_start_ms;
    lws_sorted_usec_list_t retry; /* gap retry timer */
    struct bcserver *srv;
} bcsub;

/* A document with subscribers here: its recent ops (a contiguous run of
 * versions [hist_first, hist_first + hist_count)) and its newest loaded
 * STATE. */
struct bcchan {
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    bcsub *subs;
    size_t nsubs;
    bcmsg **hist; /* ring of hist_cap slots */
    size_t hist_cap, hist_head, hist_count, hist_bytes;
    uint64_t hist_first;
    bcmsg *state;        /* the newest STATE loaded, or NULL */
    bcmsg **state_items; /* its items as ITEM messages at the state's version */
    size_t state_item_count;
    bcroster *roster; /* who is present, for newcomers */
    bool loading;     /* a state job is out */
    int load_failures;
    lws_sorted_usec_list_t load_retry;
    struct bcserver *srv;
};

/* lws' per-session memory (zeroed by lws). */
typedef struct bcsession {
    bcsub *sub;
} bcsession;

struct bcserver {
    bcserver_deps deps;
    wsserver *ws;
    bcfeed *feed;
    bcpresence *presence;
    bcload *loader;
    cmap *chans; /* doc id -> bcchan */
    bcsub *all;  /* every subscriber record */
    uint32_t open_subs;
    bool draining;
    uint8_t *scratch; /* LWS_PRE + SCRATCH_BYTES: frames several messages per write */
    lws_sorted_usec_list_t tick;
};

/* channel.c */
void bcchan_attach(bcserver *srv, bcsub *sub);
void bcchan_detach(bcserver *srv, bcsub *sub);
void bcchan_take_records(bcserver *srv);
void bcchan_take_presence(bcserver *srv);
void bcchan_take_loads(bcserver *srv);
void bcchan_free_all(bcserver *srv);
/* Queues m for sub under the queue limits (a full queue resyncs). */
void bcchan_send(bcserver *srv, bcsub *sub, bcmsg *m);
/* Queues ERROR code and closes sub once it is written. */
void bcchan_fail(bcserver *srv, bcsub *sub, const char *code, const char *message,
                 bcmetrics_disconnect reason);

/* server.c */
void bcserver_sub_release(bcserver *srv, bcsub *sub);

#endif
