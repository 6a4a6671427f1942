/*
 * ws_auth: bearer token lookup in the request (query, subprotocol header,
 * Authorization header) and its verification through auth_token. See
 * ws_auth.h.
 */
#include "common/ws_auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *wsauth_find_bearer_protocol(const char *value, size_t *len)
{
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) > 7 && strncmp(start, "bearer.", 7) == 0) {
            *len = (size_t)(end - start) - 7;
            return start + 7;
        }
    }
    return NULL;
}

static wsauth_status copy_token(const char *tok, size_t n, char *out, size_t size, size_t *len)
{
    if (n > AUTHTOKEN_MAX_LEN || n + 1 > size)
        return WSAUTH_TOO_LONG;
    memcpy(out, tok, n);
    out[n] = '\0';
    *len = n;
    return WSAUTH_OK;
}

/* Reads a whole header into a malloc'd string (caller frees), or NULL. */
static char *header_copy(struct lws *wsi, enum lws_token_indexes token)
{
    int total = lws_hdr_total_length(wsi, token);
    if (total <= 0)
        return NULL;
    char *buf = malloc((size_t)total + 1);
    if (!buf)
        return NULL;
    if (lws_hdr_copy(wsi, buf, total + 1, token) < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

wsauth_status wsauth_request_token(struct lws *wsi, char *out, size_t size, size_t *len)
{
    /* The query: lws reassembles "access_token=<value>" with the value
     * url-decoded; a JWT never needs escaping, so decoding changes nothing. */
    char arg[AUTHTOKEN_MAX_LEN + 32];
    /* lws answers -1 both for a missing fragment and for one too long for
     * the buffer, so look at a bounded number of arguments instead of
     * stopping at the first -1. */
    /* `token` is what y-websocket's params and most Yjs apps use. */
    int token_at = -1;
    for (int i = 0; i < 32; i++) {
        int n = lws_hdr_copy_fragment(wsi, arg, (int)sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n >= 13 && strncmp(arg, "access_token=", 13) == 0)
            return copy_token(arg + 13, (size_t)n - 13, out, size, len);
        if (n >= 6 && strncmp(arg, "token=", 6) == 0 && token_at < 0)
            token_at = i;
    }
    if (token_at >= 0) {
        int n = lws_hdr_copy_fragment(wsi, arg, (int)sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, token_at);
        return copy_token(arg + 6, (size_t)n - 6, out, size, len);
    }

    char *protocols = header_copy(wsi, WSI_TOKEN_PROTOCOL);
    if (protocols) {
        size_t n = 0;
        const char *tok = wsauth_find_bearer_protocol(protocols, &n);
        wsauth_status st = tok ? copy_token(tok, n, out, size, len) : WSAUTH_NO_TOKEN;
        free(protocols);
        if (st != WSAUTH_NO_TOKEN)
            return st;
    }

    char *authz = header_copy(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (authz) {
        wsauth_status st = WSAUTH_NO_TOKEN;
        if (strncasecmp(authz, "Bearer ", 7) == 0) {
            const char *tok = authz + 7;
            while (*tok == ' ')
                tok++;
            size_t n = strlen(tok);
            while (n > 0 && isspace((unsigned char)tok[n - 1]))
                n--;
            if (n > 0)
                st = copy_token(tok, n, out, size, len);
        }
        free(authz);
        return st;
    }
    return WSAUTH_NO_TOKEN;
}

wsauth_status wsauth_authenticate(struct lws *wsi, const struct authtoken_keys *keys, int64_t now,
                                  wsauth_result *res)
{
    memset(res, 0, sizeof *res);
    char *token = malloc(AUTHTOKEN_MAX_LEN + 1);
    if (!token) {
        res->status = WSAUTH_INVALID;
        res->token_status = AUTHTOKEN_ERR_NO_MEMORY;
        return res->status;
    }
    size_t len = 0;
    res->status = wsauth_request_token(wsi, token, AUTHTOKEN_MAX_LEN + 1, &len);
    if (res->status == WSAUTH_OK) {
        res->token_status = authtoken_verify(keys, token, len, now, &res->claims);
        if (res->token_status != AUTHTOKEN_OK)
            res->status = WSAUTH_INVALID;
    } else if (res->status == WSAUTH_TOO_LONG) {
        res->token_status = AUTHTOKEN_ERR_MALFORMED;
    }
    free(token);
    return res->status;
}

void wsauth_result_clear(wsauth_result *res)
{
    authtoken_claims_clear(&res->claims);
    res->status = WSAUTH_NO_TOKEN;
}

const char *wsauth_reason(const wsauth_result *res)
{
    switch (res->status) {
    case WSAUTH_OK:
        return "ok";
    case WSAUTH_NO_TOKEN:
        return "token_missing";
    case WSAUTH_TOO_LONG:
    case WSAUTH_INVALID:
        return authtoken_status_name(res->token_status);
    }
    return "unknown";
}

static const char *const jwt_algs[] = {"HS256", "RS256", "ES256", NULL};

static const cfg_setting jwt_settings[] = {
    {.name = "jwt_alg",
     .flag = "--jwt-alg",
     .env = "COLLAB_JWT_ALG",
     .type = CFG_ENUM,
     .default_value = "HS256",
     .help = "JWT signature algorithm",
     .choices = jwt_algs},
    {.name = "jwt_secret",
     .flag = "--jwt-secret",
     .env = "COLLAB_JWT_SECRET",
     .type = CFG_STRING,
     .default_value = "",
     .help = "HS256 shared secret (at least 32 bytes)",
     .secret = true},
    {.name = "jwt_secret_file",
     .flag = "--jwt-secret-file",
     .env = "COLLAB_JWT_SECRET_FILE",
     .type = CFG_STRING,
     .default_value = "",
     .help = "file holding the HS256 secret (instead of --jwt-secret)"},
    {.name = "jwt_private_key_file",
     .flag = "--jwt-private-key-file",
     .env = "COLLAB_JWT_PRIVATE_KEY_FILE",
     .type = CFG_STRING,
     .default_value = "",
     .help = "RS256/ES256 private key PEM (where tokens are issued)"},
    {.name = "jwt_public_key_file",
     .flag = "--jwt-public-key-file",
     .env = "COLLAB_JWT_PUBLIC_KEY_FILE",
     .type = CFG_STRING,
     .default_value = "",
     .help = "RS256/ES256 public key PEM"},
    {.name = "jwt_issuer",
     .flag = "--jwt-issuer",
     .env = "COLLAB_JWT_ISSUER",
     .type = CFG_STRING,
     .default_value = "collab",
     .help = "token issuer (iss)"},
    {.name = "jwt_audience",
     .flag = "--jwt-audience",
     .env = "COLLAB_JWT_AUDIENCE",
     .type = CFG_STRING,
     .default_value = "collab",
     .help = "token audience (aud)"},
    {.name = "jwt_ttl",
     .flag = "--jwt-ttl",
     .env = "COLLAB_JWT_TTL",
     .type = CFG_DURATION,
     .default_value = "1h",
     .help = "lifetime of issued tokens",
     .min = 1000000000LL,
     .max = (int64_t)AUTHTOKEN_MAX_TTL_SECONDS * 1000000000LL},
    {.name = "jwt_leeway",
     .flag = "--jwt-leeway",
     .env = "COLLAB_JWT_LEEWAY",
     .type = CFG_DURATION,
     .default_value = "30s",
     .help = "clock skew allowed on exp/nbf/iat",
     .min = 0,
     .max = (int64_t)AUTHTOKEN_MAX_LEEWAY_SECONDS * 1000000000LL},
};

int wsauth_cfg_add(cfg *c)
{
    return cfg_add(c, jwt_settings, sizeof jwt_settings / sizeof jwt_settings[0]);
}

/* Reads a whole small file (secret or key) into a malloc'd string. */
static char *read_secret_file(const char *path, char *err, size_t err_size)
{
    char *text = NULL;
    if (authtoken_read_key_file(path, &text, err, err_size) != 0)
        return NULL;
    /* A trailing newline is an editor's, not part of the secret. */
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    return text;
}

enum authtoken_status wsauth_keys_from_cfg(const cfg *c, int issuer, struct authtoken_keys **out,
                                           char *err, size_t err_size)
{
    struct authtoken_config conf;
    memset(&conf, 0, sizeof conf);
    if (authtoken_alg_parse(cfg_enum(c, "jwt_alg"), &conf.alg) != 0) {
        snprintf(err, err_size, "jwt_alg: unknown algorithm");
        return AUTHTOKEN_ERR_BAD_CONFIG;
    }
    conf.issuer = cfg_string(c, "jwt_issuer");
    conf.audience = cfg_string(c, "jwt_audience");
    conf.ttl_seconds = cfg_duration_ns(c, "jwt_ttl") / 1000000000LL;
    conf.leeway_seconds = cfg_duration_ns(c, "jwt_leeway") / 1000000000LL;
    char *secret = NULL, *priv = NULL, *pub = NULL;
    enum authtoken_status st = AUTHTOKEN_ERR_BAD_CONFIG;
    if (conf.alg == AUTHTOKEN_HS256) {
        const char *file = cfg_string(c, "jwt_secret_file");
        if (file[0]) {
            secret = read_secret_file(file, err, err_size);
            if (!secret)
                goto done;
        } else {
            secret = strdup(cfg_string(c, "jwt_secret"));
            if (!secret) {
                st = AUTHTOKEN_ERR_NO_MEMORY;
                goto done;
            }
        }
        if (!secret[0]) {
            snprintf(err, err_size,
                     "HS256 needs --jwt-secret / COLLAB_JWT_SECRET or a secret file");
            goto done;
        }
        conf.secret = (const uint8_t *)secret;
        conf.secret_len = strlen(secret);
    } else {
        const char *pub_file = cfg_string(c, "jwt_public_key_file");
        const char *priv_file = cfg_string(c, "jwt_private_key_file");
        if (!pub_file[0]) {
            snprintf(err, err_size, "%s needs --jwt-public-key-file", cfg_enum(c, "jwt_alg"));
            goto done;
        }
        if (authtoken_read_key_file(pub_file, &pub, err, err_size) != 0)
            goto done;
        conf.public_key_pem = pub;
        if (issuer) {
            if (!priv_file[0]) {
                snprintf(err, err_size, "issuing tokens needs --jwt-private-key-file");
                goto done;
            }
            if (authtoken_read_key_file(priv_file, &priv, err, err_size) != 0)
                goto done;
            conf.private_key_pem = priv;
        }
    }
    st = authtoken_keys_new(&conf, out, err, err_size);
done:
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    free(priv);
    free(pub);
    return st;
}
