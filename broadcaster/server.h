/*
 * server: the broadcaster's read endpoint on one libwebsockets thread
 * (docs/protocol.md, "Read connection"): the checks before the upgrade
 * (token, document, right), then per subscriber the document's STATE and
 * every merged operation in version order, resume with ?since=, RESYNC +
 * STATE where a gap cannot be filled, presence relay, the slow-consumer
 * rule, and ERROR shutting_down at the end. Records from the feed, presence
 * updates and loader results reach this thread through bcserver_wake
 * (lws_cancel_service); nothing here waits for Kafka, Redis or MongoDB
 * except the cached permission check (access.h).
 *
 * Build order in main: bcserver_new, then the feed, presence and loader
 * with bcserver_wake as their notify function, then bcserver_attach;
 * svc_spawn(bcserver_loop, bcserver_wake). Free order: after the loop
 * ended, the feed, presence and loader, then bcserver_free.
 * Prefix: bcserver_.
 */
#ifndef BROADCASTER_SERVER_H
#define BROADCASTER_SERVER_H

#include <stddef.h>

#include "broadcaster/feed.h"
#include "broadcaster/loader.h"
#include "broadcaster/metrics.h"
#include "broadcaster/presence.h"
#include "broadcaster/settings.h"
#include "common/auth_token.h"
#include "common/awareness.h"
#include "common/doc_access.h"
#include "common/log.h"
#include "common/op_producer.h"
#include "common/service.h"

typedef struct bcserver_deps {
    const bcsettings *settings;
    clog *log;
    bcmetrics *metrics;
    const struct authtoken_keys *keys;
    docaccess *access;
    const char *node; /* instance id: the ingest_node of the records it produces */
} bcserver_deps;

typedef struct bcserver bcserver;

/* Listens on settings->listen_host:listen_port. deps' pointers are borrowed
 * and must outlive the server. NULL with the reason in err. */
bcserver *bcserver_new(const bcserver_deps *deps, char *err, size_t err_size);

/* What the server is handed before the loop runs (all borrowed; producer
 * NULL when this node takes no writes). */
typedef struct bcserver_parts {
    bcfeed *feed;    /* collab.merged */
    bcfeed *opsfeed; /* collab.ops */
    bcpresence *presence;
    bcload *loader;
    op_producer *producer;    /* y-protocols writes to collab.ops */
    awareness_pub *awareness; /* y-protocols presence to Redis */
    const struct cavro_registry *avro;
} bcserver_parts;

void bcserver_attach(bcserver *srv, const bcserver_parts *parts);

int bcserver_port(const bcserver *srv);

/* svc loop: serves until shutdown starts, then sends ERROR shutting_down to
 * every subscriber and closes them (within settings->close_grace_ms). */
int bcserver_loop(svc *s, void *srv);

/* Wakes the loop; the notify function of feed, presence and loader, and the
 * svc wake function. Any thread. */
void bcserver_wake(void *srv);

/* Frees the server and whatever subscriber records remain. */
void bcserver_free(bcserver *srv);

#endif
