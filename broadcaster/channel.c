/*
 * channel: per-document ordering on the service thread. Each subscriber has
 * a cursor, `next`, the version it gets next; everything it is sent comes
 * through bcchan_send in cursor order, so no version is sent twice or
 * skipped. Sources, cheapest first:
 *   - the channel's history: the recent live records as one contiguous run
 *     of versions (a record that jumps ahead restarts the run);
 *   - MongoDB crdt_operations (a loader job) for versions older than the
 *     history: resume with ?since=, and the hole between a loaded state and
 *     the first live record;
 *   - a STATE: the channel's newest loaded state when the history still
 *     continues it (no I/O), else a loader job. Subscribers waiting for a
 *     state share one job.
 * The race between loading a state and the live stream needs no special
 * case: live records keep landing in the history while a state loads; when
 * it arrives the cursor becomes its version + 1, so records at or below the
 * state's version are never sent, and the newer ones follow from the
 * history (or MongoDB when the state is older than the history).
 * A STATE is followed by the document's items (ITEM messages at the
 * state's version, loaded with it), the presence once per connection, and
 * SYNCED once the cursor has caught up with what this node knows; a
 * ?since= replay ends with SYNCED too.
 * A hole nothing can fill within gap_wait (MongoDB behind the stream, or
 * the ops gone) becomes RESYNC + STATE. See server_internal.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcaster/server_internal.h"
#include "broadcaster/wire.h"
#include "common/util.h"
#include "crdt/lib0.h"

#define GAP_RETRY_US       (100 * LWS_US_PER_MS)
#define LOAD_RETRY_BASE_US (200 * LWS_US_PER_MS)
#define LOAD_MAX_FAILURES  5
#define FETCH_LIMIT        512

static void pump(bcserver *srv, bcsub *sub);
static void request_state(bcserver *srv, bcsub *sub);

/* ---- history ---- */

static uint64_t hist_last(const bcchan *ch)
{
    return ch->hist_first + ch->hist_count - 1;
}

static bcmsg *hist_at(const bcchan *ch, uint64_t version)
{
    size_t i = (size_t)(version - ch->hist_first);
    return ch->hist[(ch->hist_head + i) % ch->hist_cap];
}

static void hist_drop_oldest(bcchan *ch)
{
    bcmsg *m = ch->hist[ch->hist_head];
    ch->hist_bytes -= m->len;
    bcmsg_unref(m);
    ch->hist_head = (ch->hist_head + 1) % ch->hist_cap;
    ch->hist_count--;
    ch->hist_first++;
}

static void hist_clear(bcchan *ch)
{
    while (ch->hist_count)
        hist_drop_oldest(ch);
    ch->hist_head = 0;
}

/* Appends m (taking a reference) at the end of the run; the caller checked
 * that it continues it (or the run is empty). */
static void hist_append(bcserver *srv, bcchan *ch, bcmsg *m)
{
    const bcsettings *set = srv->deps.settings;
    if (!ch->hist) {
        ch->hist = calloc(set->history_max_ops, sizeof *ch->hist);
        if (!ch->hist)
            return; /* subscribers then fetch from MongoDB */
        ch->hist_cap = set->history_max_ops;
    }
    if (ch->hist_count == 0)
        ch->hist_first = m->version;
    while (ch->hist_count > 0 &&
           (ch->hist_count == ch->hist_cap || ch->hist_bytes + m->len > set->history_max_bytes))
        hist_drop_oldest(ch);
    if (ch->hist_count == 0)
        ch->hist_first = m->version;
    bcmsg_ref(m);
    ch->hist[(ch->hist_head + ch->hist_count) % ch->hist_cap] = m;
    ch->hist_count++;
    ch->hist_bytes += m->len;
}

/* ---- channels ---- */

static void chan_drop_state(bcchan *ch)
{
    bcmsg_unref(ch->state);
    ch->state = NULL;
    for (size_t i = 0; i < ch->state_item_count; i++)
        bcmsg_unref(ch->state_items[i]);
    free(ch->state_items);
    ch->state_items = NULL;
    ch->state_item_count = 0;
}

static void chan_free(bcserver *srv, bcchan *ch)
{
    lws_sul_cancel(&ch->load_retry);
    cmap_remove(srv->chans, ch->doc_id);
    if (srv->feed)
        bcfeed_unwatch(srv->feed, ch->doc_id);
    if (srv->opsfeed)
        bcfeed_unwatch(srv->opsfeed, ch->doc_id);
    if (srv->presence)
        bcpresence_unwatch(srv->presence, ch->doc_id);
    hist_clear(ch);
    free(ch->hist);
    chan_drop_state(ch);
    bclive_clear(srv, ch);
    bcroster_free(ch->roster);
    free(ch);
    metrics_gauge_set(srv->deps.metrics->documents, (double)cmap_count(srv->chans));
}

void bcchan_maybe_free(bcserver *srv, bcchan *ch)
{
    if (ch->nsubs == 0 && !ch->loading && ch->nysess == 0 && !ch->live_loading_job)
        chan_free(srv, ch);
}

bcchan *bcchan_open(bcserver *srv, const char *doc_id)
{
    bcchan *ch = cmap_get(srv->chans, doc_id);
    if (ch)
        return ch;
    ch = calloc(1, sizeof *ch);
    if (!ch || !(ch->roster = bcroster_new())) {
        free(ch);
        return NULL;
    }
    snprintf(ch->doc_id, sizeof ch->doc_id, "%s", doc_id);
    ch->srv = srv;
    if (cmap_put(srv->chans, doc_id, ch) != 0) {
        bcroster_free(ch->roster);
        free(ch);
        return NULL;
    }
    /* Watch before any state load starts, so every record newer than the
     * state reaches the history (or, in the race, MongoDB fills it), and
     * every op after a live document's log read reaches it. */
    if ((srv->feed && bcfeed_watch(srv->feed, doc_id) != 0) ||
        (srv->opsfeed && bcfeed_watch(srv->opsfeed, doc_id) != 0) ||
        (srv->presence && bcpresence_watch(srv->presence, doc_id) != 0)) {
        chan_free(srv, ch);
        return NULL;
    }
    metrics_gauge_set(srv->deps.metrics->documents, (double)cmap_count(srv->chans));
    return ch;
}

/* A loaded state is still good for a newcomer when the history continues
 * it: then STATE + the history's newer ops is the current document. */
static bool state_usable(const bcchan *ch)
{
    return ch->state && (ch->hist_count == 0 || ch->hist_first <= ch->state->version + 1);
}

/* ---- sending ---- */

static bool ordered(const bcmsg *m)
{
    return m->kind == BCMSG_MERGED || m->kind == BCMSG_ITEM;
}

static void resync(bcserver *srv, bcsub *sub, bcmetrics_resync why);

void bcchan_send(bcserver *srv, bcsub *sub, bcmsg *m)
{
    if (!sub->wsi || sub->closing)
        return;
    const bcsettings *set = srv->deps.settings;
    bcqueue *q = &sub->q;
    if (m->kind == BCMSG_AWARENESS &&
        (q->count >= set->queue_max_messages / 2 || q->bytes >= set->queue_max_bytes / 2)) {
        /* Presence is refreshed by its owner; a backed-up reader can miss it. */
        metrics_counter_inc(srv->deps.metrics->awareness_dropped);
        return;
    }
    if (ordered(m) &&
        (q->count >= set->queue_max_messages || q->bytes + m->len > set->queue_max_bytes)) {
        resync(srv, sub, BCRESYNC_SLOW_CONSUMER);
        return;
    }
    bool was_empty = q->count == 0;
    if (bcqueue_push(q, m) != 0) {
        bcchan_fail(srv, sub, "internal", "out of memory", BCDISC_INTERNAL);
        return;
    }
    /* As in bcy_send: writeable() asks again while messages remain. */
    if (was_empty)
        lws_callback_on_writable(sub->wsi);
}

void bcchan_fail(bcserver *srv, bcsub *sub, const char *code, const char *message,
                 bcmetrics_disconnect reason)
{
    if (!sub->wsi || sub->closing)
        return;
    bcqueue_clear(&sub->q);
    bcmsg *m = bcwire_error(code, message);
    if (m && bcqueue_push(&sub->q, m) != 0) {
        bcmsg_unref(m);
        m = NULL;
    }
    bcmsg_unref(m);
    sub->closing = true;
    sub->close_reason = reason;
    sub->next = 0;
    lws_callback_on_writable(sub->wsi);
    (void)srv;
}

static void resync(bcserver *srv, bcsub *sub, bcmetrics_resync why)
{
    const bcsettings *set = srv->deps.settings;
    if (why == BCRESYNC_SLOW_CONSUMER) {
        int64_t now = util_now_ms();
        if (now - sub->slow_window_start_ms > set->slow_window_ms) {
            sub->slow_window_start_ms = now;
            sub->slow_resyncs = 0;
        }
        if (++sub->slow_resyncs > set->slow_resyncs) {
            bcchan_fail(srv, sub, "slow_consumer",
                        "this connection keeps falling behind; reconnect when able",
                        BCDISC_SLOW_CONSUMER);
            return;
        }
    }
    metrics_counter_inc(srv->deps.metrics->resyncs[why]);
    bcqueue_clear(&sub->q);
    sub->next = 0;
    sub->resuming = false;
    sub->gap_since_ms = 0;
    lws_sul_cancel(&sub->retry);
    bcmsg *m = bcwire_resync(bcmetrics_resync_name(why));
    if (!m) {
        bcchan_fail(srv, sub, "internal", "out of memory", BCDISC_INTERNAL);
        return;
    }
    bcchan_send(srv, sub, m);
    bcmsg_unref(m);
    request_state(srv, sub);
}

/* ---- states ---- */

/* Queues a message that belongs to a STATE (its items) outside the queue
 * limit: like the STATE itself it is bounded by the document, and limiting
 * it would resync a reader of a document with many items forever. */
static void send_with_state(bcserver *srv, bcsub *sub, bcmsg *m)
{
    if (!sub->wsi || sub->closing)
        return;
    if (bcqueue_push(&sub->q, m) != 0) {
        bcchan_fail(srv, sub, "internal", "out of memory", BCDISC_INTERNAL);
        return;
    }
    lws_callback_on_writable(sub->wsi);
}

/* The subscribe-time presence: who the roster knows (the presence hash
 * loaded with a state plus everything relayed since). Once per connection. */
static void send_presence(bcserver *srv, bcsub *sub)
{
    sub->presence_sent = true;
    bcmsg *present =
        bcroster_message(sub->ch->roster, util_now_ms(), srv->deps.settings->presence_timeout_ms);
    if (present) {
        bcchan_send(srv, sub, present);
        bcmsg_unref(present);
    }
}

/* STATE, its items, the presence (first time only); SYNCED follows from
 * pump once the history after the state is sent. The channel has a state. */
static void give_state(bcserver *srv, bcsub *sub)
{
    bcchan *ch = sub->ch;
    bcmsg *state = ch->state;
    sub->waiting_state = false;
    sub->resuming = false;
    sub->gap_since_ms = 0;
    bcchan_send(srv, sub, state);
    for (size_t i = 0; i < ch->state_item_count; i++)
        send_with_state(srv, sub, ch->state_items[i]);
    if (!sub->presence_sent)
        send_presence(srv, sub);
    if (!sub->wsi || sub->closing)
        return;
    sub->next = state->version + 1;
    sub->want_synced = true;
    pump(srv, sub);
}

static void start_load(bcserver *srv, bcchan *ch)
{
    bcload_job *job = bcload_job_new(BCLOAD_STATE, ch->doc_id, ch);
    if (!job) {
        for (bcsub *s = ch->subs; s; s = s->ch_next)
            if (s->waiting_state)
                bcchan_fail(srv, s, "internal", "out of memory", BCDISC_INTERNAL);
        return;
    }
    ch->loading = true;
    bcload_submit(srv->loader, job);
}

static void load_retry(lws_sorted_usec_list_t *sul)
{
    bcchan *ch = lws_container_of(sul, bcchan, load_retry);
    if (!ch->loading)
        start_load(ch->srv, ch);
}

static void request_state(bcserver *srv, bcsub *sub)
{
    bcchan *ch = sub->ch;
    sub->next = 0;
    if (state_usable(ch)) {
        give_state(srv, sub);
        return;
    }
    sub->waiting_state = true;
    if (!ch->loading && lws_dll2_is_detached(&ch->load_retry.list))
        start_load(srv, ch);
}

static void state_loaded(bcserver *srv, bcload_job *job)
{
    bcchan *ch = job->owner;
    bcmetrics *m = srv->deps.metrics;
    ch->loading = false;
    if (ch->nsubs == 0) {
        bcchan_maybe_free(srv, ch);
        return;
    }
    if (job->status != BCLOAD_OK) {
        metrics_counter_inc(m->state_loads_failed);
        clog_field f[] = {clog_str("doc_id", ch->doc_id), clog_str("error", job->err)};
        clog_emit(srv->deps.log, CLOG_WARN, "cannot load a document state", f, 2);
        if (++ch->load_failures >= LOAD_MAX_FAILURES) {
            ch->load_failures = 0;
            for (bcsub *s = ch->subs; s; s = s->ch_next)
                if (s->waiting_state) {
                    s->waiting_state = false;
                    bcchan_fail(srv, s, "internal", "the document state cannot be loaded",
                                BCDISC_INTERNAL);
                }
            return;
        }
        lws_sul_schedule(wsserver_context(srv->ws), 0, &ch->load_retry, load_retry,
                         LOAD_RETRY_BASE_US * ch->load_failures);
        return;
    }
    metrics_counter_inc(m->state_loads_ok);
    metrics_histogram_observe(m->state_load_seconds, (double)job->elapsed_ns / 1e9);
    ch->load_failures = 0;
    if (!ch->state || job->state->version >= ch->state->version) {
        chan_drop_state(ch);
        ch->state = job->state;
        job->state = NULL;
        ch->state_items = job->items;
        ch->state_item_count = job->item_count;
        job->items = NULL;
        job->item_count = 0;
    }
    if (job->presence) {
        /* The message is AWARENESS (varUint type) + varBytes update. */
        crdt_rd rd;
        crdt_rd_init(&rd, bcmsg_payload(job->presence), job->presence->len);
        (void)crdt_rd_varuint(&rd);
        size_t ulen = 0;
        const uint8_t *update = crdt_rd_varbytes(&rd, &ulen);
        if (crdt_rd_ok(&rd))
            bcroster_apply(ch->roster, update, ulen, util_now_ms());
    }
    for (bcsub *s = ch->subs; s; s = s->ch_next) {
        if (s->waiting_state)
            give_state(srv, s);
    }
}

/* ---- catching up ---- */

static void start_fetch(bcserver *srv, bcsub *sub, size_t limit)
{
    bcload_job *job = bcload_job_new(BCLOAD_OPS, sub->doc_id, sub);
    if (!job) {
        bcchan_fail(srv, sub, "internal", "out of memory", BCDISC_INTERNAL);
        return;
    }
    job->after = sub->next - 1;
    job->limit = limit;
    sub->fetching = true;
    sub->jobs++;
    bcload_submit(srv->loader, job);
}

/* Sends what the history has from the cursor on; asks MongoDB for what is
 * older than the history. */
static void pump(bcserver *srv, bcsub *sub)
{
    bcchan *ch = sub->ch;
    if (!sub->wsi || sub->closing || sub->next == 0 || sub->fetching || !ch)
        return;
    while (ch->hist_count && sub->next >= ch->hist_first && sub->next <= hist_last(ch)) {
        bcchan_send(srv, sub, hist_at(ch, sub->next));
        if (sub->next == 0 || sub->closing || !sub->wsi)
            return; /* resynced or failed by the send */
        sub->next++;
    }
    if (ch->hist_count && sub->next < ch->hist_first) {
        uint64_t missing = ch->hist_first - sub->next;
        start_fetch(srv, sub, missing < FETCH_LIMIT ? (size_t)missing : FETCH_LIMIT);
        return;
    }
    if (sub->want_synced) {
        /* Caught up with everything this node knows of the document. */
        sub->want_synced = false;
        bcmsg *synced = bcwire_synced(sub->next - 1);
        if (!synced) {
            bcchan_fail(srv, sub, "internal", "out of memory", BCDISC_INTERNAL);
            return;
        }
        bcchan_send(srv, sub, synced);
        bcmsg_unref(synced);
    }
}

static void gap_retry(lws_sorted_usec_list_t *sul)
{
    bcsub *sub = lws_container_of(sul, bcsub, retry);
    pump(sub->srv, sub);
}

static void ops_fetched(bcserver *srv, bcload_job *job)
{
    bcsub *sub = job->owner;
    bcmetrics *m = srv->deps.metrics;
    sub->jobs--;
    sub->fetching = false;
    if (!sub->wsi) {
        bcserver_sub_release(srv, sub);
        return;
    }
    if (sub->next == 0 || sub->closing)
        return; /* resynced meanwhile: a state is coming */
    if (job->status != BCLOAD_OK) {
        metrics_counter_inc(m->op_fetches_failed);
        clog_field f[] = {clog_str("doc_id", sub->doc_id), clog_str("error", job->err)};
        clog_emit(srv->deps.log, CLOG_WARN, "cannot read ops from MongoDB", f, 2);
    } else
        metrics_counter_inc(m->op_fetches_ok);

    if (sub->resuming) {
        sub->resuming = false;
        const bcsettings *set = srv->deps.settings;
        bool too_far = job->op_count > set->resume_max_ops;
        if (job->status != BCLOAD_OK || too_far || job->hole) {
            /* "else a STATE" (docs/protocol.md, resuming) */
            request_state(srv, sub);
            return;
        }
    }
    uint64_t before = sub->next;
    for (size_t i = 0; i < job->op_count && sub->next != 0 && !sub->closing; i++) {
        if (job->ops[i]->version < sub->next)
            continue;
        if (job->ops[i]->version != sub->next)
            break;
        bcchan_send(srv, sub, job->ops[i]);
        if (sub->next == 0 || sub->closing)
            return;
        sub->next++;
    }
    bcchan *ch = sub->ch;
    bool behind = ch->hist_count && sub->next < ch->hist_first;
    if (!behind || sub->next > before) {
        sub->gap_since_ms = 0;
        pump(srv, sub);
        return;
    }
    /* MongoDB does not have the missing ops (yet): wait, then resync. */
    int64_t now = util_now_ms();
    if (!sub->gap_since_ms)
        sub->gap_since_ms = now;
    if (now - sub->gap_since_ms >= srv->deps.settings->gap_wait_ms) {
        clog_field f[] = {clog_str("doc_id", sub->doc_id),
                          clog_int("missing_from", (int64_t)sub->next),
                          clog_int("history_from", (int64_t)ch->hist_first)};
        clog_emit(srv->deps.log, CLOG_INFO, "gap cannot be filled: resync", f, 3);
        resync(srv, sub, BCRESYNC_GAP);
        return;
    }
    lws_sul_schedule(wsserver_context(srv->ws), 0, &sub->retry, gap_retry, GAP_RETRY_US);
}

/* ---- subscribers joining and leaving ---- */

void bcchan_attach(bcserver *srv, bcsub *sub)
{
    bcchan *ch = bcchan_open(srv, sub->doc_id);
    if (!ch) {
        bcchan_fail(srv, sub, "internal", "out of memory", BCDISC_INTERNAL);
        return;
    }
    sub->ch = ch;
    sub->ch_prev = NULL;
    sub->ch_next = ch->subs;
    if (ch->subs)
        ch->subs->ch_prev = sub;
    ch->subs = sub;
    ch->nsubs++;
    if (!sub->has_since) {
        request_state(srv, sub); /* STATE, items, presence, SYNCED */
        return;
    }
    /* A resuming reader gets the presence first, then the replay, then
     * SYNCED (or a STATE with its items when the replay cannot be made). */
    send_presence(srv, sub);
    sub->next = sub->since + 1;
    sub->want_synced = true;
    if (ch->hist_count && sub->next >= ch->hist_first && sub->since <= hist_last(ch)) {
        pump(srv, sub); /* the history has everything after since */
        return;
    }
    /* Ask MongoDB for what follows since: one more than allowed tells
     * "too far behind" apart. */
    sub->resuming = true;
    start_fetch(srv, sub, srv->deps.settings->resume_max_ops + 1);
}

void bcchan_detach(bcserver *srv, bcsub *sub)
{
    bcchan *ch = sub->ch;
    lws_sul_cancel(&sub->retry);
    if (!ch)
        return;
    if (sub->ch_prev)
        sub->ch_prev->ch_next = sub->ch_next;
    else
        ch->subs = sub->ch_next;
    if (sub->ch_next)
        sub->ch_next->ch_prev = sub->ch_prev;
    sub->ch_prev = sub->ch_next = NULL;
    sub->ch = NULL;
    ch->nsubs--;
    bcchan_maybe_free(srv, ch);
}

/* ---- hand-overs from the other threads ---- */

static void live_record(bcserver *srv, const char *doc_id, bcmsg *m)
{
    bcmetrics *met = srv->deps.metrics;
    bcchan *ch = cmap_get(srv->chans, doc_id);
    if (!ch) {
        metrics_counter_inc(met->records[BCREC_IGNORED]);
        return;
    }
    if (m->kind == BCMSG_ITEM && ch->nysess > 0)
        bclive_item_record(srv, ch, m);
    if (ch->nsubs == 0) {
        /* Only y-protocols sessions here: they need the items, not the
         * history (a reader that joins later loads a state). */
        hist_clear(ch);
        metrics_counter_inc(met->records[BCREC_DELIVERED]);
        return;
    }
    if (ch->hist_count && m->version <= hist_last(ch)) {
        metrics_counter_inc(met->records[BCREC_DUPLICATE]);
        return;
    }
    if (ch->hist_count && m->version != hist_last(ch) + 1) {
        /* The stream jumped (records this node never saw): restart the run;
         * subscribers behind it fetch the hole from MongoDB. */
        metrics_counter_inc(met->records[BCREC_GAP]);
        hist_clear(ch);
    }
    hist_append(srv, ch, m);
    metrics_counter_inc(met->records[BCREC_DELIVERED]);
    bcsub *s = ch->subs;
    while (s) {
        bcsub *next = s->ch_next;
        pump(srv, s);
        s = next;
    }
    if (ch->state && !state_usable(ch)) {
        /* The history moved past the loaded state: it can no longer serve a
         * newcomer, so drop it (the next newcomer loads a fresh one). */
        chan_drop_state(ch);
    }
}

void bcchan_take_records(bcserver *srv)
{
    if (!srv->feed)
        return;
    bcfeed_record *r = bcfeed_take(srv->feed);
    while (r) {
        bcfeed_record *next = r->next;
        live_record(srv, r->doc_id, r->msg);
        bcfeed_record_free(r);
        r = next;
    }
}

void bcchan_take_presence(bcserver *srv)
{
    if (!srv->presence)
        return;
    bcpresence_update *u = bcpresence_take(srv->presence);
    while (u) {
        bcpresence_update *next = u->next;
        bcchan *ch = cmap_get(srv->chans, u->doc_id);
        if (ch) {
            metrics_counter_inc(srv->deps.metrics->awareness_relayed);
            crdt_rd rd;
            crdt_rd_init(&rd, bcmsg_payload(u->msg), u->msg->len);
            (void)crdt_rd_varuint(&rd);
            size_t ulen = 0;
            const uint8_t *update = crdt_rd_varbytes(&rd, &ulen);
            if (crdt_rd_ok(&rd)) {
                bcroster_apply(ch->roster, update, ulen, util_now_ms());
                bcy_relay_awareness(srv, ch, update, ulen, u->msg);
            }
            for (bcsub *s = ch->subs; s; s = s->ch_next)
                bcchan_send(srv, s, u->msg);
        }
        bcpresence_update_free(u);
        u = next;
    }
}

void bcchan_take_loads(bcserver *srv)
{
    if (!srv->loader)
        return;
    bcload_job *job = bcload_take(srv->loader);
    while (job) {
        bcload_job *next = job->next;
        if (job->kind == BCLOAD_STATE)
            state_loaded(srv, job);
        else if (job->kind == BCLOAD_LIVE)
            bclive_loaded(srv, job);
        else
            ops_fetched(srv, job);
        bcload_job_free(job);
        job = next;
    }
}

static int free_chan(void *userdata, const char *key, void *value)
{
    (void)key;
    bcserver *srv = userdata;
    bcchan *ch = value;
    lws_sul_cancel(&ch->load_retry);
    if (srv->feed)
        bcfeed_unwatch(srv->feed, ch->doc_id);
    if (srv->opsfeed)
        bcfeed_unwatch(srv->opsfeed, ch->doc_id);
    hist_clear(ch);
    free(ch->hist);
    chan_drop_state(ch);
    bclive_clear(srv, ch);
    bcroster_free(ch->roster);
    free(ch);
    return 0;
}

void bcchan_free_all(bcserver *srv)
{
    cmap_filter(srv->chans, free_chan, srv);
}
