/*
 * server_internal: the structs shared by the parts of the broadcaster's
 * server: server.c (lws callback, upgrade routing, writes, loop), channel.c
 * (per-document ordering, history, states, resync for the read
 * connections), live.c (the live document of the y-protocols connections:
 * loaded once, then fed from collab.ops and from this edge's own acked
 * writes) and ysock.c (the y-websocket and Hocuspocus connections). Not for
 * use outside those files. Everything here lives on the lws service thread.
 */
#ifndef BROADCASTER_SERVER_INTERNAL_H
#define BROADCASTER_SERVER_INTERNAL_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "broadcaster/msg.h"
#include "broadcaster/roster.h"
#include "broadcaster/server.h"
#include "common/awareness.h"
#include "common/op_producer.h"
#include "common/strmap.h"
#include "common/userstore.h"
#include "common/ws_frame.h"
#include "common/ws_server.h"
#include "common/yproto.h"
#include "crdt/crdt.h"

typedef struct bcchan bcchan;
typedef struct bcysock bcysock;

/* What a WebSocket's opaque user data points to: the first member of both
 * records, so the upgrade's record is told apart once the socket opens. */
typedef enum bcconn_kind { BCCONN_READ = 1, BCCONN_YSOCK } bcconn_kind;

/* Where a y-protocols session stands. */
typedef enum bcysess_state {
    BCYSESS_OPEN,   /* authorised and attached to its channel */
    BCYSESS_CLOSED, /* left (Hocuspocus CLOSE, auth lost, socket gone): kept while ops are out */
} bcysess_state;

/* One document of a y-protocols socket: the socket's only one for
 * y-websocket, one per document name for Hocuspocus. Lives until it is
 * closed and no op of it waits for its delivery report (inflight == 0). */
typedef struct bcysess {
    struct bcysess *sock_next;         /* the socket's sessions */
    struct bcysess *ch_prev, *ch_next; /* the channel's sessions */
    bcysock *sock;
    bcchan *ch; /* NULL once closed */
    bcysess_state state;
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    char user_id[USTORE_USER_ID_LEN + 1];
    ustore_role role;
    uint8_t *pending_sv; /* a sync step 1 waiting for the live document (malloc'd) */
    size_t pending_sv_len;
    bool pending_step1;       /* pending_sv holds one */
    bool pending_step1_reply; /* Hocuspocus sync reply: answer without our own step 1 */
    bool greeted;             /* our step 1, presence and items went out */
    bool told_read_only;      /* y-websocket: the read-only notice went out once */
    uint64_t op_seq;          /* op ids <socket id>-<n> */
    uint32_t inflight;        /* ops produced and not yet reported */
    awareness_tracker presence;
} bcysess;

/* A y-websocket or Hocuspocus connection. Lives until the socket closed and
 * its last session is gone. */
struct bcysock {
    bcconn_kind kind;                    /* BCCONN_YSOCK, first */
    struct bcysock *all_prev, *all_next; /* the server's list of y sockets */
    struct lws *wsi;                     /* NULL once the socket closed */
    yproto_dialect dialect;
    char id[17]; /* random hex, the prefix of its op ids */
    bcqueue q;
    bool established;
    bool closing; /* close once the queue is written, with close_code */
    uint16_t close_code;
    char close_reason[96];
    bcysess *sessions;
    size_t nsessions;
    uint8_t *rx; /* the message being received */
    size_t rx_len, rx_cap;
    bool rx_oversized, rx_binary;
    /* y-websocket: the outcome of the checks made before the upgrade, acted
     * on once the socket is open (a close code needs an open socket). */
    uint16_t refusal_code; /* 0: authorised */
    char refusal_reason[96];
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    char user_id[USTORE_USER_ID_LEN + 1];
    ustore_role role;
    struct bcserver *srv;
};

/* The live document of a channel (live.c). */
typedef enum bclive_state {
    BCLIVE_NONE,    /* no y-protocols session wants it */
    BCLIVE_LOADING, /* a loader job builds it; updates wait in live_wait */
    BCLIVE_READY,   /* live holds every durable update this node has seen */
} bclive_state;

/* An item of the document as the Hocuspocus sessions get it (stateless). */
typedef struct bcitem {
    char *item_id;
    int64_t revision;
    char *json; /* the item state JSON (processor/README-items.md) */
} bcitem;

/* One read connection. Created when the upgrade is allowed; lives until the
 * socket closed and no loader job names it (jobs == 0). */
typedef struct bcsub {
    bcconn_kind kind;                  /* BCCONN_READ, first */
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
    /* y-protocols sessions and their live document (live.c, ysock.c) */
    bcysess *ysess;
    size_t nysess;
    bclive_state live_state;
    crdt_doc *live;
    bcfeed_record *live_wait_head, *live_wait_tail; /* updates that came while loading */
    size_t live_wait_bytes;
    bool live_wait_overflow; /* too many came: load again when this load is done */
    bcmsg *live_full[2];     /* the whole document as step 2, per dialect; NULL: stale */
    bcitem *items;           /* the document's items, newest revision of each */
    size_t item_count, item_cap;
    int live_failures;
    bool live_loading_job; /* a LIVE loader job names this channel */
    lws_sorted_usec_list_t live_retry;
    struct bcserver *srv;
};

/* lws' per-session memory (zeroed by lws). */
typedef struct bcsession {
    bcsub *sub;
    bcysock *ysock;
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
    bcfeed *opsfeed;          /* collab.ops, for the live documents */
    op_producer *producer;    /* NULL: this edge takes no writes */
    awareness_pub *awareness; /* presence from y-protocols sessions to Redis */
    const struct cavro_registry *avro;
    bcysock *ysocks; /* every y socket record */
    uint32_t open_ysocks;
    wsframe_msg *scratch_op; /* one op at a time is encoded (16 KiB with its clock) */
    size_t live_documents;   /* channels whose live document is ready */
    bool draining;
    uint8_t *scratch; /* LWS_PRE + SCRATCH_BYTES: frames several messages per write */
    lws_sorted_usec_list_t tick;
};

/* channel.c */
/* The channel of doc_id, made (and watched) when new; NULL when out of
 * memory. bcchan_maybe_free frees one nobody uses any more. */
bcchan *bcchan_open(bcserver *srv, const char *doc_id);
void bcchan_maybe_free(bcserver *srv, bcchan *ch);
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
/* Writes what q holds to wsi (many messages framed into one write). 0, or
 * -1 when the socket failed. */
int bcserver_write_queue(bcserver *srv, struct lws *wsi, bcqueue *q);

/* live.c */
/* A y-protocols session wants the channel's live document: starts loading
 * it when there is none. */
void bclive_want(bcserver *srv, bcchan *ch);
/* The ops feed's records and this edge's acked writes (bcy_take_done). */
void bclive_take_records(bcserver *srv);
void bclive_loaded(bcserver *srv, struct bcload_job *job);
/* Keeps an acked update of this edge's for a document still loading. */
void bclive_wait(bcserver *srv, bcchan *ch, const uint8_t *update, size_t len);
/* A durable Yjs update of doc_id (from the log, or acked here): applied to
 * the live document and, when new, sent to its sessions. Returns the
 * apply result (CRDT_APPLIED, CRDT_DUPLICATE, CRDT_PENDING), or 0 when
 * the update waits for the document to load, or -1 when it was refused. */
int bclive_apply(bcserver *srv, bcchan *ch, const uint8_t *update, size_t len, int64_t ingest_us);
/* The step 2 answering a step 1 with state vector sv, for dialect (name
 * for Hocuspocus). One reference, or NULL when out of memory or sv is bad. */
bcmsg *bclive_step2(bcserver *srv, bcchan *ch, yproto_dialect dialect, const uint8_t *sv,
                    size_t sv_len);
/* A merged ITEM record (channel.c's live stream) for the sessions. */
void bclive_item_record(bcserver *srv, bcchan *ch, const bcmsg *item);
/* Frees what the live document holds (the channel goes). */
void bclive_clear(bcserver *srv, bcchan *ch);

/* ysock.c */
/* Whether the upgrade's path is a y-protocols endpoint: 1 with the dialect
 * and, for y-websocket, the document id (empty when it is not a valid one:
 * refused once the socket is open); 0 otherwise. */
int bcy_route(bcserver *srv, struct lws *wsi, yproto_dialect *dialect, char *doc_id,
              size_t doc_id_size);
/* The checks before a y-protocols upgrade. 0 to accept, 1 to refuse (an
 * HTTP answer was sent). */
int bcy_confirm_upgrade(bcserver *srv, struct lws *wsi, yproto_dialect dialect, const char *doc_id);
int bcy_established(bcserver *srv, bcsession *ss, struct lws *wsi);
int bcy_receive(bcserver *srv, bcysock *s, const void *in, size_t len);
int bcy_writeable(bcserver *srv, bcysock *s);
void bcy_closed(bcserver *srv, bcysock *s);
/* A record whose upgrade never completed. */
void bcy_abandoned(bcserver *srv, bcysock *s);
/* The live document of ch is ready: greet and answer its sessions. */
void bcy_live_ready(bcserver *srv, bcchan *ch);
/* The live document could not be loaded: its sessions are closed. */
void bcy_live_failed(bcserver *srv, bcchan *ch);
/* An item state (borrowed) of a merged record at version, as a stateless
 * message to ch's Hocuspocus sessions. */
void bcy_send_item(bcserver *srv, bcchan *ch, json_t *item, uint64_t version, const char *op_id,
                   size_t op_len);
/* Queues m on s under the queue limits (over them: closed, slow consumer). */
void bcy_send(bcserver *srv, bcysock *s, bcmsg *m);
/* Awareness relayed from Redis for ch's sessions: as_read_message is the
 * read connections' AWARENESS, which is y-websocket's message too. */
void bcy_relay_awareness(bcserver *srv, bcchan *ch, const uint8_t *update, size_t len,
                         bcmsg *as_read_message);
/* The producer's delivery reports: acks, echoes, the live documents. */
void bcy_take_done(bcserver *srv);
/* Shutdown: every y socket gets its goodbye close. */
void bcy_shutdown_all(bcserver *srv);
void bcy_free_all(bcserver *srv);

#endif
