#!/bin/sh
# Writes the seed corpus of fuzz_auth_token into $1: a few tokens (mode byte
# 0) and header/payload pairs for the harness to sign (mode byte 1).
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
printf '\000%s' 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2ln' > token_hs256
printf '\000%s' 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.' > token_none
printf '\000%s' 'a.b.c' > token_short
printf '\001%s\n%s' '{"alg":"HS256","typ":"JWT"}' \
    '{"sub":"u","iss":"collab-fuzz","aud":"collab-api","jti":"j","iat":1763800000,"nbf":1763800000,"exp":1763800600,"name":"N"}' > signed_valid
printf '\001%s\n%s' '{"alg":"HS256"}' \
    '{"sub":"u","iss":"collab-fuzz","aud":["x","collab-api"],"jti":"j","exp":1763800600.5}' > signed_aud_array
printf '\001%s\n%s' '{"alg":"HS256","crit":["x"]}' '{"sub":"u"}' > signed_crit
