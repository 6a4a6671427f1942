/*
 * collab-admin: the operator's tool for accounts and rights, over the same
 * MongoDB collections the services use (common/userstore.h):
 *
 *   collab-admin user-create --username alice --name "Alice" (password from
 *                            --password, COLLAB_ADMIN_PASSWORD or stdin)
 *   collab-admin user-list
 *   collab-admin doc-create  --doc notes --owner alice [--title T] [--policy manual|lww]
 *   collab-admin grant       --doc notes --username bob --role editor|viewer|owner|none
 *   collab-admin perms       --doc notes
 *
 * Output: one JSON object per line (scripts and tests parse it). Errors: a
 * one-line message on stderr and exit code 1 (2 for bad usage).
 */
#include <jansson.h>
#include <mongoc/mongoc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/auth_password.h"
#include "common/config.h"
#include "common/log.h"
#include "common/mongo.h"
#include "common/userstore.h"

static const cfg_setting admin_settings[] = {
    {.name = "username",
     .flag = "--username",
     .type = CFG_STRING,
     .default_value = "",
     .help = "user name (user-create, grant; doc-create --owner takes one too)"},
    {.name = "name",
     .flag = "--name",
     .type = CFG_STRING,
     .default_value = "",
     .help = "display name (user-create)"},
    {.name = "password",
     .flag = "--password",
     .env = "COLLAB_ADMIN_PASSWORD",
     .type = CFG_STRING,
     .default_value = "",
     .help = "password (user-create); empty: read one line from stdin",
     .secret = true},
    {.name = "doc",
     .flag = "--doc",
     .type = CFG_STRING,
     .default_value = "",
     .help = "document id (doc-create, grant, perms)"},
    {.name = "owner",
     .flag = "--owner",
     .type = CFG_STRING,
     .default_value = "",
     .help = "owner's user name (doc-create)"},
    {.name = "title",
     .flag = "--title",
     .type = CFG_STRING,
     .default_value = "",
     .help = "document title (doc-create)"},
    {.name = "policy",
     .flag = "--policy",
     .type = CFG_STRING,
     .default_value = "manual",
     .help = "item policy manual|lww (doc-create)"},
    {.name = "role",
     .flag = "--role",
     .type = CFG_STRING,
     .default_value = "",
     .help = "owner|editor|viewer|none (grant)"},
    {.name = "argon2_opslimit",
     .flag = "--argon2-opslimit",
     .env = "COLLAB_ARGON2_OPSLIMIT",
     .type = CFG_INT,
     .default_value = "2",
     .help = "argon2id passes",
     .min = 1,
     .max = 100},
    {.name = "argon2_memlimit",
     .flag = "--argon2-memlimit",
     .env = "COLLAB_ARGON2_MEMLIMIT",
     .type = CFG_SIZE,
     .default_value = "64MiB",
     .help = "argon2id memory",
     .min = 8192,
     .max = 4LL * 1024 * 1024 * 1024},
};

static int print_json(json_t *obj)
{
    if (!obj)
        return -1;
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text)
        return -1;
    printf("%s\n", text);
    free(text);
    return 0;
}

static int fail(const char *what, ustore_status st)
{
    fprintf(stderr, "collab-admin: %s: %s\n", what, ustore_status_name(st));
    return 1;
}

static int user_create(const cfg *c, ustore *us)
{
    const char *username = cfg_string(c, "username");
    if (!ustore_username_valid(username)) {
        fprintf(stderr, "collab-admin: --username must be 1-64 of [A-Za-z0-9._@-]\n");
        return 2;
    }
    char line[AUTHPW_PASSWORD_MAX + 2];
    const char *password = cfg_string(c, "password");
    if (!password[0]) {
        if (!fgets(line, sizeof line, stdin)) {
            fprintf(stderr, "collab-admin: no password given (--password, "
                            "COLLAB_ADMIN_PASSWORD or one line on stdin)\n");
            return 2;
        }
        line[strcspn(line, "\r\n")] = '\0';
        password = line;
    }
    struct authpw_params params = {(unsigned long long)cfg_int(c, "argon2_opslimit"),
                                   (size_t)cfg_size(c, "argon2_memlimit")};
    char hash[AUTHPW_HASH_MAX];
    enum authpw_status ps = authpw_hash(&params, password, strlen(password), hash);
    sodium_memzero(line, sizeof line);
    if (ps != AUTHPW_OK) {
        fprintf(stderr, "collab-admin: cannot hash the password: %s\n", authpw_status_name(ps));
        return 1;
    }
    ustore_user user;
    ustore_status st = ustore_user_create(us, username, hash, cfg_string(c, "name"), &user);
    if (st != USTORE_OK)
        return fail("user-create", st);
    return print_json(
        json_pack("{s:s,s:s,s:s}", "id", user.id, "username", user.username, "name", user.name));
}

static void print_user(void *ctx, const ustore_user *u)
{
    (void)ctx;
    print_json(json_pack("{s:s,s:s,s:s,s:I}", "id", u->id, "username", u->username, "name", u->name,
                         "created_at_ms", (json_int_t)u->created_at_ms));
}

/* Resolves --<flag> (a user name) to a user record. */
static int find_user(const cfg *c, ustore *us, const char *flag, ustore_user *out)
{
    const char *name = cfg_string(c, flag);
    ustore_status st = ustore_user_by_name(us, name, out);
    if (st == USTORE_NOT_FOUND) {
        fprintf(stderr, "collab-admin: no user \"%s\"\n", name);
        return 1;
    }
    return st == USTORE_OK ? 0 : fail("user lookup", st);
}

static int doc_create(const cfg *c, ustore *us)
{
    ustore_user owner;
    int rc = find_user(c, us, "owner", &owner);
    if (rc != 0)
        return rc;
    ustore_doc doc;
    memset(&doc, 0, sizeof doc);
    snprintf(doc.id, sizeof doc.id, "%s", cfg_string(c, "doc"));
    snprintf(doc.title, sizeof doc.title, "%s", cfg_string(c, "title"));
    snprintf(doc.item_policy, sizeof doc.item_policy, "%s", cfg_string(c, "policy"));
    snprintf(doc.owner, sizeof doc.owner, "%s", owner.id);
    ustore_status st = ustore_doc_create(us, &doc);
    if (st != USTORE_OK)
        return fail("doc-create", st);
    return print_json(json_pack("{s:s,s:s,s:s,s:I}", "id", doc.id, "owner", doc.owner,
                                "item_policy", doc.item_policy, "version",
                                (json_int_t)doc.version));
}

static int grant(const cfg *c, ustore *us)
{
    ustore_role role;
    if (ustore_role_parse(cfg_string(c, "role"), &role) != 0) {
        fprintf(stderr, "collab-admin: --role must be owner, editor, viewer or none\n");
        return 2;
    }
    ustore_user user;
    int rc = find_user(c, us, "username", &user);
    if (rc != 0)
        return rc;
    ustore_doc doc;
    ustore_status st = ustore_doc_get(us, cfg_string(c, "doc"), &doc);
    if (st != USTORE_OK)
        return fail("document lookup", st);
    /* Granted by the document's owner: the admin acts on the owner's behalf. */
    st = ustore_permission_set(us, doc.id, user.id, role, doc.owner);
    if (st != USTORE_OK)
        return fail("grant", st);
    return print_json(json_pack("{s:s,s:s,s:s}", "doc_id", doc.id, "user_id", user.id, "role",
                                ustore_role_name(role)));
}

static void print_permission(void *ctx, const ustore_permission *p)
{
    (void)ctx;
    print_json(json_pack("{s:s,s:s,s:s,s:s}", "doc_id", p->doc_id, "user_id", p->user_id, "role",
                         ustore_role_name(p->role), "granted_by", p->granted_by));
}

static int run(const cfg *c, const char *command, ustore *us)
{
    if (strcmp(command, "user-create") == 0)
        return user_create(c, us);
    if (strcmp(command, "user-list") == 0) {
        ustore_status st = ustore_user_list(us, print_user, NULL);
        return st == USTORE_OK ? 0 : fail("user-list", st);
    }
    if (strcmp(command, "doc-create") == 0)
        return doc_create(c, us);
    if (strcmp(command, "grant") == 0)
        return grant(c, us);
    if (strcmp(command, "perms") == 0) {
        ustore_status st = ustore_permission_list(us, cfg_string(c, "doc"), print_permission, NULL);
        return st == USTORE_OK ? 0 : fail("perms", st);
    }
    fprintf(stderr,
            "collab-admin: unknown command \"%s\" (user-create, user-list, doc-create, "
            "grant, perms)\n",
            command);
    return 2;
}

int main(int argc, char **argv)
{
    cfg *c = cfg_new(argv[0], "collab-admin COMMAND: user-create, user-list, doc-create, grant, "
                              "perms (users, documents and rights in MongoDB)");
    if (!c || cfg_add_common(c) != 0 ||
        cfg_add(c, admin_settings, sizeof admin_settings / sizeof admin_settings[0]) != 0) {
        fprintf(stderr, "collab-admin: %s\n", c ? cfg_error(c) : "out of memory");
        cfg_free(c);
        return 2;
    }
    cfg_allow_positional(c);
    int code = cfg_parse_cli(c, argc, argv, NULL, stdout, stderr);
    if (code != CFG_RUN) {
        cfg_free(c);
        return code;
    }
    if (cfg_positional_count(c) != 1) {
        fprintf(stderr, "collab-admin: give exactly one command (see --help)\n");
        cfg_free(c);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "collab-admin: libsodium cannot initialise\n");
        cfg_free(c);
        return 1;
    }
    mongoc_init();
    clog *log = clog_new("collab-admin", CLOG_WARN, STDERR_FILENO);
    char err[256];
    cmongo_opts mo = {.uri = cfg_string(c, CFG_MONGO_URI),
                      .db = cfg_string(c, CFG_MONGO_DB),
                      .app_name = "collab-admin",
                      .log = log};
    cmongo *m = cmongo_new(&mo, err, sizeof err);
    ustore *us = m ? ustore_new(m, log) : NULL;
    code = 1;
    if (!m) {
        fprintf(stderr, "collab-admin: %s\n", err);
    } else if (!us || ustore_ensure_indexes(us, err, sizeof err) != 0) {
        fprintf(stderr, "collab-admin: %s\n", us ? err : "out of memory");
    } else {
        code = run(c, cfg_positional(c, 0), us);
    }
    ustore_free(us);
    cmongo_free(m);
    clog_free(log);
    mongoc_cleanup();
    cfg_free(c);
    return code;
}
