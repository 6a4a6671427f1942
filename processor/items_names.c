/*
 * items_names: the text forms of the items enums, for logs, metric labels,
 * client errors and the policy field of the JSON view. See items.h.
 */
#include "processor/items.h"

#include <string.h>

const char *items_outcome_name(items_outcome outcome)
{
    switch (outcome) {
    case ITEMS_APPLIED:
        return "applied";
    case ITEMS_DUPLICATE:
        return "duplicate";
    case ITEMS_STALE:
        return "stale";
    case ITEMS_CONFLICT:
        return "conflict";
    case ITEMS_LOST:
        return "lost";
    case ITEMS_RESOLVED:
        return "resolved";
    case ITEMS_REJECTED:
        return "rejected";
    }
    return "unknown";
}

const char *items_decided_by_name(items_decided_by decided_by)
{
    switch (decided_by) {
    case ITEMS_BY_NONE:
        return "none";
    case ITEMS_BY_CLOCK:
        return "clock";
    case ITEMS_BY_TIMESTAMP:
        return "timestamp";
    case ITEMS_BY_CLIENT_ID:
        return "client_id";
    case ITEMS_BY_VALUE:
        return "value";
    }
    return "unknown";
}

const char *items_policy_name(items_policy policy)
{
    return policy == ITEMS_POLICY_LWW ? "lww" : "manual";
}

bool items_policy_from_name(const char *name, items_policy *policy)
{
    if (name && strcmp(name, "manual") == 0) {
        *policy = ITEMS_POLICY_MANUAL;
        return true;
    }
    if (name && strcmp(name, "lww") == 0) {
        *policy = ITEMS_POLICY_LWW;
        return true;
    }
    return false;
}

const char *items_strerror(items_error error)
{
    switch (error) {
    case ITEMS_OK:
        return "ok";
    case ITEMS_ERR_NOMEM:
        return "out of memory";
    case ITEMS_ERR_ARGUMENT:
        return "missing argument";
    case ITEMS_ERR_ITEM_ID_EMPTY:
        return "item id is empty";
    case ITEMS_ERR_ITEM_ID_TOO_LONG:
        return "item id is longer than 256 bytes";
    case ITEMS_ERR_ITEM_ID_INVALID:
        return "item id is not UTF-8 or contains a control character";
    case ITEMS_ERR_VALUE_TOO_LARGE:
        return "item value is larger than 64 KiB";
    case ITEMS_ERR_CLOCK_EMPTY:
        return "write carries an empty vector clock";
    case ITEMS_ERR_CLOCK_TOO_LARGE:
        return "vector clock (or the item's merged clock) would exceed 1024 entries";
    case ITEMS_ERR_CLOCK_INVALID:
        return "vector clock entries are unsorted, zero or above 2^53-1";
    case ITEMS_ERR_RANGE:
        return "timestamp or client id above 2^53-1";
    case ITEMS_ERR_TOO_MANY_SIBLINGS:
        return "item already holds 32 unresolved concurrent values; resolve them first";
    case ITEMS_ERR_NOTHING_TO_RESOLVE:
        return "item has no value to resolve";
    case ITEMS_ERR_RESOLVE_NOT_DOMINATING:
        return "resolve clock does not dominate every sibling (it has not seen them all)";
    case ITEMS_ERR_BAD_JSON:
        return "stored item state is not valid";
    }
    return "unknown items error";
}
