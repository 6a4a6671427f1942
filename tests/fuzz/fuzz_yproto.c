/*
 * fuzz_yproto.c - libFuzzer target: the input is one message from a stock Yjs
 * provider (common/yproto), parsed as y-websocket and as Hocuspocus. The
 * parser must reject what is malformed with a status, and what it accepts
 * must point inside the input and encode back (with the server-side encoders
 * of the same message shape) into a message that parses to the same thing.
 * Seeds: corpus/yproto/ (messages recorded from y-websocket 3 and
 * @hocuspocus/provider 3).
 */
#include "common/yproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_yproto: %s\n", what);
    abort();
}

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return n == 0 || (p >= data && n <= size && p - data <= (ptrdiff_t)(size - n));
}

/* Re-encodes the message shapes a server also sends and parses them back. */
static void check_reencode(yproto_dialect dialect, const yproto_msg *m)
{
    char name[256];
    const char *n = NULL;
    if (dialect == YPROTO_HOCUSPOCUS) {
        if (!m->name || m->name_len >= sizeof name)
            return;
        memcpy(name, m->name, m->name_len);
        name[m->name_len] = '\0';
        if (strlen(name) != m->name_len) /* a NUL in the name: no C string */
            return;
        n = name;
    }
    crdt_buf b;
    crdt_buf_init(&b);
    switch (m->kind) {
    case YPROTO_SYNC_STEP1:
        yproto_put_sync_step1(&b, n, m->payload, m->payload_len);
        break;
    case YPROTO_SYNC_STEP2:
        if (m->reply)
            goto done;
        yproto_put_sync_step2(&b, n, m->payload, m->payload_len);
        break;
    case YPROTO_SYNC_UPDATE:
        yproto_put_sync_update(&b, n, m->payload, m->payload_len);
        break;
    case YPROTO_AWARENESS:
        yproto_put_awareness(&b, n, m->payload, m->payload_len);
        break;
    case YPROTO_STATELESS:
        yproto_put_stateless(&b, n, (const char *)m->payload, m->payload_len);
        break;
    default:
        goto done;
    }
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (crdt_buf_take(&b, &again, &again_len) != CRDT_OK)
        fail("encoding failed");
    yproto_msg back;
    if (yproto_parse(dialect, again, again_len, &back) != YPROTO_OK)
        fail("a re-encoded message does not parse");
    if (back.kind != m->kind || back.payload_len != m->payload_len ||
        (m->payload_len && memcmp(back.payload, m->payload, m->payload_len) != 0) ||
        back.name_len != m->name_len)
        fail("a re-encoded message parses to something else");
    free(again);
done:
    crdt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const yproto_dialect dialects[] = {YPROTO_YWEBSOCKET, YPROTO_HOCUSPOCUS};
    for (size_t i = 0; i < 2; i++) {
        yproto_msg m;
        yproto_status st = yproto_parse(dialects[i], data, size, &m);
        if (strlen(yproto_status_text(st)) == 0)
            fail("a status without a text");
        if (m.name && !inside((const uint8_t *)m.name, m.name_len, data, size))
            fail("the name points outside the input");
        if (st != YPROTO_OK)
            continue;
        if (!inside(m.payload, m.payload_len, data, size))
            fail("the payload points outside the input");
        if (m.kind == YPROTO_SYNC_UPDATE || m.kind == YPROTO_SYNC_STEP2)
            (void)yproto_update_client(m.payload, m.payload_len);
        check_reencode(dialects[i], &m);
    }
    return 0;
}
