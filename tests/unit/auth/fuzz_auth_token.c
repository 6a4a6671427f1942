/*
 * libFuzzer target for JWT verification (common/auth_token.c), which reads
 * attacker-controlled bytes before any authentication. The first input byte
 * picks the mode:
 *   even: the rest is a token, verified as it is (parsing, base64url, JSON,
 *         algorithm checks, signature);
 *   odd:  the rest is "header JSON \n payload JSON", which this harness signs
 *         with the configured secret, so the claim checks behind a valid
 *         signature are reached too.
 * Either way verification must return a status, and a token it accepts must
 * carry the claims it promises.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1763800000LL

static const uint8_t fuzz_secret[] = "fuzzing-secret-0123456789abcdef-0123";

static void fuzz_require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_auth_token: %s\n", what);
        abort();
    }
}

static void fuzz_b64(char *out, size_t cap, const void *data, size_t len)
{
    size_t used = strlen(out);
    fuzz_require(used + sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) <=
                     cap,
                 "token buffer too small");
    sodium_bin2base64(out + used, cap - used, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header "\n" payload -> a token signed with fuzz_secret; malloc'd, or NULL. */
static char *fuzz_sign(const uint8_t *data, size_t size)
{
    const uint8_t *newline = memchr(data, '\n', size);
    if (newline == NULL) {
        return NULL;
    }
    size_t header_len = (size_t)(newline - data);
    size_t payload_len = size - header_len - 1;
    size_t cap = (size + 64) * 2;
    char *token = calloc(1, cap);
    fuzz_require(token != NULL, "out of memory");
    fuzz_b64(token, cap, data, header_len);
    token[strlen(token)] = '.';
    fuzz_b64(token, cap, newline + 1, payload_len);
    size_t signed_len = strlen(token);
    token[signed_len] = '.';
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    fuzz_require(crypto_auth_hmacsha256_init(&st, fuzz_secret, sizeof(fuzz_secret) - 1) == 0 &&
                     crypto_auth_hmacsha256_update(&st, (const uint8_t *)token, signed_len) == 0 &&
                     crypto_auth_hmacsha256_final(&st, mac) == 0,
                 "hmac");
    fuzz_b64(token, cap, mac, sizeof(mac));
    return token;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Built once per fuzzing process and never freed: the keys are immutable. */
    static struct authtoken_keys *keys;
    if (keys == NULL) {
        struct authtoken_config config = {.alg = AUTHTOKEN_HS256,
                                          .secret = fuzz_secret,
                                          .secret_len = sizeof(fuzz_secret) - 1,
                                          .issuer = "collab-fuzz",
                                          .audience = "collab-api",
                                          .ttl_seconds = 600,
                                          .leeway_seconds = 30};
        char err[256];
        if (authtoken_keys_new(&config, &keys, err, sizeof(err)) != AUTHTOKEN_OK) {
            fprintf(stderr, "keys: %s\n", err);
            abort();
        }
    }
    if (size == 0 || size > 2 * (size_t)AUTHTOKEN_MAX_LEN) {
        return 0;
    }
    char *signed_token = NULL;
    const char *token = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        signed_token = fuzz_sign(data + 1, size - 1);
        if (signed_token == NULL) {
            return 0;
        }
        token = signed_token;
        len = strlen(signed_token);
    }
    struct authtoken_claims claims;
    enum authtoken_status rc = authtoken_verify(keys, token, len, FUZZ_NOW, &claims);
    if (rc == AUTHTOKEN_OK) {
        fuzz_require(claims.sub != NULL && claims.sub[0] != '\0' && claims.jti != NULL &&
                         claims.name != NULL,
                     "accepted token without its claims");
        fuzz_require(FUZZ_NOW < claims.exp + 30, "accepted an expired token");
    } else {
        fuzz_require(claims.sub == NULL, "rejected token left claims behind");
    }
    authtoken_claims_clear(&claims);
    free(signed_token);
    return 0;
}
