/* sign_vectors.h: the known vectors of SymetryML's signature, computed with python3 and the
 * openssl CLI (never with symtask's code): common/sign.c is checked against them
 * (test_sign.c), and so are symtaskd's verification (tests/unit/core/test_auth.c) and what
 * the model-server plugins send (tests/plugins/test_symetryml.c). */
#ifndef SYMTASK_TESTS_SIGN_VECTORS_H
#define SYMTASK_TESTS_SIGN_VECTORS_H

#include <time.h>

/* Customer secrets, each from
 * python3 -c "import os,base64;k=os.urandom(16);print(k.hex(), base64.b64encode(k).decode())"
 * c1: 3311618e17ea3b1e9736165669b71608 MxFhjhfqOx6XNhZWabcWCA==
 * c2: 650dfa30efa6e98763df98ef632207d6 ZQ36MO+m6Ydj35jvYyIH1g== */
#define SECRET_C1 "MxFhjhfqOx6XNhZWabcWCA=="
#define SECRET_C2 "ZQ36MO+m6Ydj35jvYyIH1g=="

/* The date every vector is signed at, and the clock it is checked against:
 * python3 -c "import calendar;print(calendar.timegm((2026,11,28,13,55,8)))" */
#define DATE "2026-11-28 13:55:08;123456789"
#define NOW ((time_t)1795874108)

#define BODY "{\"taskName\":\"t1\",\"type\":\"predict\"}"
/* printf '%s' '{"taskName":"t1","type":"predict"}' | openssl dgst -md5 -binary
 *   | openssl base64 */
#define BODY_MD5 "FYXiypiYi9tE8Jn5WjYZ+Q=="

/* Each signature: printf '<StringToSign>' | openssl dgst -sha256 -mac HMAC
 *   -macopt hexkey:3311618e17ea3b1e9736165669b71608 -binary | openssl base64
 * and again with python3 base64.b64encode(hmac.new(key, sts, hashlib.sha256).digest()),
 * which gave the same. */
#define STS_GET                                                                                    \
    "GET\n\n" SECRET_C1 "\n" DATE "\nc1\n"                                                         \
    "/symetry/rest/c1/tasks\n"
#define SIG_GET "cp7S+zEIoMTTcvGCntCCyQ0aY3iw6OircKFF9IFuKqI="
#define STS_POST_QUERY                                                                             \
    "POST\n" BODY_MD5 "\n" SECRET_C1 "\n" DATE "\nc1\n" BODY "\n"                                  \
    "/symetry/rest/c1/tasks/create\nforce=true\n"
#define SIG_POST_QUERY "IlbrmFHWCEwF525gTrJS3s44nOCZikg8JZ3YhShLIcw="
#define STS_POST                                                                                   \
    "POST\n" BODY_MD5 "\n" SECRET_C1 "\n" DATE "\nc1\n" BODY "\n"                                  \
    "/symetry/rest/c1/tasks/create\n"
#define SIG_POST "h85PQq8xdES6vHKaGMXL/ZCDHAsPfhwsRHGNe6UBEKs="
/* GET /symetry/rest/c1/tasks/t1/start, no body, no query. */
#define SIG_GET_START "h14JaxCXFhYII/fxQyGz237SrsKifPOpxrL/PN0ghcI="
/* c2 signing GET /symetry/rest/c1/tasks with its own key and Customer-ID c2 (python3,
 * key 650dfa30efa6e98763df98ef632207d6). */
#define SIG_C2_ON_C1 "1p3q4ZH3InSa/NEv8yBn2wAE+J9PSrTJLofy1vY1LXg="

/* A SymetryML prediction, as the symetryml plugin posts it (a DataFrame of one row):
 * BODY_PREDICT's MD5 and the signature, as above (python3 and openssl gave the same). */
#define PATH_PREDICT "/symetry/rest/c1/projects/p1/predict/m1"
#define BODY_PREDICT                                                                               \
    "{\"attributeNames\":[\"x1\",\"plan\"],\"attributeTypes\":[\"C\",\"S\"],\"data\":[[\"1.5\","   \
    "\"gold\"]]}"
#define BODY_PREDICT_MD5 "AA0NPmL9oRkFWvTP+VTdBQ=="
#define STS_PREDICT                                                                                \
    "POST\n" BODY_PREDICT_MD5 "\n" SECRET_C1 "\n" DATE "\nc1\n" BODY_PREDICT "\n" PATH_PREDICT     \
    "\nimpute=true\n"
#define SIG_PREDICT "ecCYddqtJxwVGxVe23rYhavqzykRgUQgW5ZfodMX3bM="

#endif
