/* fuzz_xgboost.c: libFuzzer target for the xgboost plugin's native engine
 * (plugins/predictors/xgboost/: xgb_reader.c, xgb_model.c, xgb_forest.c), with XGBoost's
 * library as the oracle: every prediction of the native engine must be XGBoost's, bit for
 * bit (NaN for NaN).
 *
 * Input: the first byte chooses how the rest is read.
 *   - Even: a recipe. The bytes choose a model (objective, gbtree or dart, classes,
 *     base_score, trees of up to 63 nodes with numerical and categorical splits on
 *     conditions, categories and leaves that include NaN, infinities, signed zeros and
 *     subnormals, default directions, tree ids out of file order) and rows (missing values,
 *     infinities, the splits' own conditions and their neighbours, category edges). The
 *     model is written as XGBoost writes it, as JSON or UBJSON (bit 1 of the first byte),
 *     read back by the plugin's reader, checked, compiled, and loaded by XGBoost from the
 *     same bytes; both must accept it, and predict the same.
 *   - Odd: a model file, JSON or UBJSON (bit 1), as mutated bytes. The plugin's reader and
 *     check must refuse it cleanly or accept it; when they accept it and the native engine
 *     compiles it, XGBoost loads it (never a model the check refused, which could crash
 *     it) and, when XGBoost accepts it too, both predict rows drawn from the input's hash.
 *
 * XGBoost runs on one thread (OpenMP's default set to 1 before its first call, and
 * nthread 1 on every booster), so the oracle is deterministic. Run with
 * `--write-seeds=DIR` (before libFuzzer's flags) to write the seed corpus: recipes, and
 * model files written from them. */
#include <dlfcn.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xgboost/c_api.h>

#include "xgb_internal.h"

#define MAX_NODES 63
#define MAX_TREES 8
#define MAX_FEATURES 8
#define MAX_ROWS 64
#define RAW_MAX_FEATURES 64
#define PREDICT_CONFIG                                                                             \
    "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"                    \
    "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}"

/* ---- Bytes in, bytes out --------------------------------------------------------------------- */

typedef struct src {
    const uint8_t *p;
    size_t n;
} src_t;

static uint8_t take(src_t *s)
{
    if (s->n == 0)
        return 0;
    s->n--;
    return *s->p++;
}

static uint32_t take32(src_t *s)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v = v << 8 | take(s);
    return v;
}

static float take_bits_float(src_t *s)
{
    uint32_t bits = take32(s);
    float v;

    memcpy(&v, &bits, sizeof(v));
    return v;
}

typedef struct out {
    char *data;
    size_t len, cap;
} out_t;

static void put(out_t *o, const void *data, size_t len)
{
    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2 + 256;
        o->data = realloc(o->data, o->cap);
        if (o->data == NULL)
            abort();
    }
    memcpy(o->data + o->len, data, len);
    o->len += len;
}

static void put_byte(out_t *o, char c)
{
    put(o, &c, 1);
}

static void put_be(out_t *o, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        put_byte(o, (char)(v >> (8 * i)));
}

/* ---- Writing as XGBoost writes (src/common/json.cc) -------------------------------------- */

typedef struct writer {
    out_t out;
    int ubj;
    int first[32]; /* JSON: no member or element written yet at this depth */
    int depth;
} writer_t;

static void w_sep(writer_t *w)
{
    if (w->ubj || w->depth == 0)
        return;
    if (!w->first[w->depth])
        put_byte(&w->out, ',');
    w->first[w->depth] = 0;
}

static void w_open(writer_t *w, char c)
{
    w_sep(w);
    put_byte(&w->out, c);
    w->first[++w->depth] = 1;
}

static void w_close(writer_t *w, char c)
{
    w->depth--;
    if (!w->ubj || c == '}')
        put_byte(&w->out, c);
}

static void w_key(writer_t *w, const char *key)
{
    size_t n = strlen(key);

    if (w->ubj) {
        put_byte(&w->out, 'L');
        put_be(&w->out, n, 8);
        put(&w->out, key, n);
        return;
    }
    w_sep(w);
    put_byte(&w->out, '"');
    put(&w->out, key, n);
    put(&w->out, "\":", 2);
    w->first[w->depth] = 1; /* the value follows without a comma */
}

static void w_string(writer_t *w, const char *s)
{
    size_t n = strlen(s);

    if (w->ubj) {
        put_byte(&w->out, 'S');
        put_byte(&w->out, 'L');
        put_be(&w->out, n, 8);
        put(&w->out, s, n);
        return;
    }
    w_sep(w);
    put_byte(&w->out, '"');
    put(&w->out, s, n);
    put_byte(&w->out, '"');
}

static void w_int(writer_t *w, int64_t v)
{
    char text[32];

    if (w->ubj) {
        /* XGBoost's choice of marker (UBJWriter::Visit(JsonInteger)) */
        if (v > INT8_MIN && v < INT8_MAX) {
            put_byte(&w->out, 'i');
            put_be(&w->out, (uint64_t)v, 1);
        } else if (v > INT16_MIN && v < INT16_MAX) {
            put_byte(&w->out, 'I');
            put_be(&w->out, (uint64_t)v, 2);
        } else if (v > INT32_MIN && v < INT32_MAX) {
            put_byte(&w->out, 'l');
            put_be(&w->out, (uint64_t)v, 4);
        } else {
            put_byte(&w->out, 'L');
            put_be(&w->out, (uint64_t)v, 8);
        }
        return;
    }
    w_sep(w);
    snprintf(text, sizeof(text), "%" PRId64, v);
    put(&w->out, text, strlen(text));
}

/* A float as JSON: 9 significant digits give back the same float; always a fraction or an
 * exponent, so that XGBoost reads a float. */
static void json_float(out_t *o, float v)
{
    char text[48];

    if (isnan(v))
        snprintf(text, sizeof(text), "NaN");
    else if (isinf(v))
        snprintf(text, sizeof(text), v > 0 ? "Infinity" : "-Infinity");
    else {
        snprintf(text, sizeof(text), "%.9g", (double)v);
        if (strpbrk(text, ".e") == NULL)
            strcat(text, ".0");
    }
    put(o, text, strlen(text));
}

static void w_float(writer_t *w, float v)
{
    uint32_t bits;

    if (w->ubj) {
        memcpy(&bits, &v, sizeof(bits));
        put_byte(&w->out, 'd');
        put_be(&w->out, bits, 4);
        return;
    }
    w_sep(w);
    json_float(&w->out, v);
}

/* A typed array as XGBoost writes its F32Array ('d'), U8Array ('U'), I32Array ('l') and
 * I64Array ('L'): in JSON, plain numbers. @f or @i holds the values. */
static void w_typed(writer_t *w, char type, size_t n, const float *f, const int64_t *i)
{
    size_t k;

    if (!w->ubj) {
        w_open(w, '[');
        for (k = 0; k < n; k++) {
            if (type == 'd')
                w_float(w, f[k]);
            else
                w_int(w, i[k]);
        }
        w_close(w, ']');
        return;
    }
    w_sep(w);
    put(&w->out, "[$", 2);
    put_byte(&w->out, type);
    put(&w->out, "#L", 2);
    put_be(&w->out, n, 8);
    for (k = 0; k < n; k++) {
        uint32_t bits;

        switch (type) {
        case 'd':
            memcpy(&bits, &f[k], sizeof(bits));
            put_be(&w->out, bits, 4);
            break;
        case 'U':
            put_be(&w->out, (uint64_t)i[k], 1);
            break;
        case 'l':
            put_be(&w->out, (uint64_t)i[k], 4);
            break;
        default:
            put_be(&w->out, (uint64_t)i[k], 8);
            break;
        }
    }
}

/* A generic array's head: UBJSON counts it, as XGBoost does. */
static void w_array(writer_t *w, size_t n)
{
    w_open(w, '[');
    if (w->ubj) {
        put(&w->out, "#L", 2);
        put_be(&w->out, n, 8);
    }
}

/* ---- The recipe ----------------------------------------------------------------------------- */

/* The objectives, with the parameters XGBoost 1.7 saves with each (its LoadConfig reads
 * them): one object of string members, or none. */
static const struct {
    const char *name;
    const char *param;    /* the parameters' object, or NULL */
    const char *kv[2][2]; /* its members */
    int logit, multi;
} objectives[] = {
    {"reg:squarederror", "reg_loss_param", {{"scale_pos_weight", "1"}}, 0, 0},
    {"reg:squaredlogerror", "reg_loss_param", {{"scale_pos_weight", "1"}}, 0, 0},
    {"reg:logistic", "reg_loss_param", {{"scale_pos_weight", "1"}}, 1, 0},
    {"reg:pseudohubererror", "pseudo_huber_param", {{"huber_slope", "1"}}, 0, 0},
    {"reg:absoluteerror", NULL, {{NULL}}, 0, 0},
    {"reg:gamma", NULL, {{NULL}}, 0, 0},
    {"reg:tweedie", "tweedie_regression_param", {{"tweedie_variance_power", "1.5"}}, 0, 0},
    {"binary:logistic", "reg_loss_param", {{"scale_pos_weight", "1"}}, 1, 0},
    {"binary:logitraw", "reg_loss_param", {{"scale_pos_weight", "1"}}, 0, 0},
    {"binary:hinge", NULL, {{NULL}}, 0, 0},
    {"count:poisson", "poisson_regression_param", {{"max_delta_step", "0.7"}}, 0, 0},
    {"survival:cox", NULL, {{NULL}}, 0, 0},
    {"survival:aft",
     "aft_loss_param",
     {{"aft_loss_distribution", "normal"}, {"aft_loss_distribution_scale", "1"}},
     0,
     0},
    {"multi:softmax", NULL, {{NULL}}, 0, 1},
    {"multi:softprob", NULL, {{NULL}}, 0, 1},
    {"rank:pairwise",
     "lambda_rank_param",
     {{"fix_list_weight", "0"}, {"num_pairsample", "1"}},
     0,
     0},
    {"rank:ndcg", "lambda_rank_param", {{"fix_list_weight", "0"}, {"num_pairsample", "1"}}, 0, 0},
    {"rank:map", "lambda_rank_param", {{"fix_list_weight", "0"}, {"num_pairsample", "1"}}, 0, 0},
};
#define N_OBJECTIVES (sizeof(objectives) / sizeof(objectives[0]))

typedef struct gtree {
    int n;
    int64_t left[MAX_NODES], right[MAX_NODES], parent[MAX_NODES], feature[MAX_NODES];
    int64_t default_left[MAX_NODES], split_type[MAX_NODES];
    float cond[MAX_NODES]; /* a leaf's value at a leaf */
    int64_t cats[MAX_NODES][4];
    int n_cats[MAX_NODES];
    int categorical; /* has a categorical split */
} gtree_t;

typedef struct recipe {
    int objective, dart, classes, groups, n_features, n_trees, ubj;
    float base_score;
    gtree_t trees[MAX_TREES];
    int64_t id[MAX_TREES], group[MAX_TREES];
    float weight[MAX_TREES];
} recipe_t;

/* A float of full precision between -2^(e+1) and 2^(e+1), e from the byte: where libm's
 * functions and the float additions round differently from their double versions. */
static float take_precise(src_t *s)
{
    uint32_t bits = take32(s);
    float v = ldexpf((float)(bits & 0xffffff) / 16777216.0f + 1.0f, (int)(bits >> 24) % 8 - 3);

    return bits & 0x80000000u ? -v : v;
}

/* A condition or a leaf: ordinary values mostly, then every kind of float. */
static float take_value(src_t *s, int leaf)
{
    uint8_t b = take(s);

    if (leaf && b >= 128)
        return take_precise(s); /* leaves make the margins the transforms see */
    switch (b % 16) {
    case 0:
        return take_bits_float(s); /* any bits: NaN, infinities, subnormals */
    case 1:
        return 0.0f;
    case 2:
        return -0.0f;
    case 3:
        return INFINITY;
    case 4:
        return -INFINITY;
    case 5:
        return NAN;
    case 6:
        return leaf ? 3.0e38f : FLT_MAX;
    case 7:
        return 1e-45f;
    case 8:
    case 9:
    case 10:
    case 11:
        return take_precise(s);
    default:
        return (float)((int)take(s) - 128) / (leaf ? 16.0f : 8.0f);
    }
}

/* Categories: around XGBoost's 32-bit words, and its largest (whose bitset XGBoost makes
 * 2 MiB long, hence rarely). */
static int64_t take_category(src_t *s)
{
    static const int64_t small[] = {0, 1, 2, 3, 5, 7, 31, 32, 33, 63, 64, 100};
    uint8_t b = take(s);

    if (b == 255)
        return 16777215;
    if (b >= 248)
        return b & 1 ? 65535 : 1000;
    return small[b % (sizeof(small) / sizeof(small[0]))];
}

/* Grows a tree breadth first, as XGBoost numbers its nodes. */
static void take_tree(src_t *s, recipe_t *r, gtree_t *t)
{
    int depth[MAX_NODES], i;

    t->n = 1;
    t->parent[0] = 2147483647; /* what XGBoost writes for the root */
    depth[0] = 0;
    for (i = 0; i < t->n; i++) {
        uint8_t b = take(s);

        t->split_type[i] = 0;
        t->n_cats[i] = 0;
        t->feature[i] = 0;
        t->default_left[i] = 0;
        if (t->n + 2 > MAX_NODES || depth[i] >= 10 || b >= 150) {
            t->left[i] = t->right[i] = -1;
            t->cond[i] = take_value(s, 1);
            continue;
        }
        t->left[i] = t->n;
        t->right[i] = t->n + 1;
        for (int c = 0; c < 2; c++) {
            t->parent[t->n] = i;
            depth[t->n] = depth[i] + 1;
            t->n++;
        }
        t->feature[i] = take(s) % r->n_features;
        t->default_left[i] = b & 1;
        if (b % 5 == 0) {
            int n = 1 + (b >> 4) % 4;

            t->split_type[i] = 1;
            t->categorical = 1;
            t->n_cats[i] = n;
            for (int k = 0; k < n; k++)
                t->cats[i][k] = take_category(s);
            t->cond[i] = NAN; /* what XGBoost writes for a categorical split */
        } else {
            t->cond[i] = take_value(s, 0);
        }
    }
}

static void take_recipe(src_t *s, recipe_t *r, int ubj)
{
    uint8_t b;

    memset(r, 0, sizeof(*r));
    r->ubj = ubj;
    r->objective = take(s) % N_OBJECTIVES;
    b = take(s);
    r->dart = b & 1;
    r->classes = objectives[r->objective].multi ? 1 + (b >> 1) % 4 : 0;
    r->groups = r->classes > 1 ? r->classes : 1;
    r->n_features = 1 + take(s) % MAX_FEATURES;
    r->n_trees = take(s) % (MAX_TREES + 1);
    if (r->dart && r->n_trees == 0)
        r->n_trees = 1; /* XGBoost 1.7 predicts nothing with a dart booster without trees */
    b = take(s);
    if (objectives[r->objective].logit) {
        static const float probabilities[] = {0.5f, 0.3f, 1e-7f, 0.99999994f, 0.0001f, 0.75f};
        r->base_score = probabilities[b % 6];
        if (b >= 128) /* a probability of 9 digits */
            r->base_score = (float)(take32(s) % 999999999 + 1) / 1e9f;
    } else {
        static const float scores[] = {0.5f, 0.0f, -3.25f, 1e30f, 2.5f, 1e-40f, -0.0f, 100.0f};
        r->base_score = scores[b % 8];
        if (b >= 128)
            r->base_score = take_precise(s);
    }
    /* what the model file says: 9 significant digits */
    {
        char text[48];
        snprintf(text, sizeof(text), "%.9g", (double)r->base_score);
        r->base_score = strtof(text, NULL);
    }
    for (int t = 0; t < r->n_trees; t++) {
        take_tree(s, r, &r->trees[t]);
        r->group[t] = t % r->groups;
        r->weight[t] = take_value(s, 1);
        r->id[t] = t;
    }
    /* sometimes the trees out of their order in the file: XGBoost orders them by id */
    if (take(s) % 4 == 0) {
        for (int t = 0; t < r->n_trees; t++)
            r->id[t] = r->n_trees - 1 - t;
    }
}

/* The base_score as XGBoost writes it: at most 9 significant digits, which read back. */
static void base_score_text(float v, char *text, size_t size)
{
    snprintf(text, size, "%.9g", (double)v);
}

static void write_tree(writer_t *w, const recipe_t *r, const gtree_t *t, int64_t id)
{
    float zeros[MAX_NODES] = {0};
    int64_t cat_nodes[MAX_NODES], cat_segments[MAX_NODES], cat_sizes[MAX_NODES];
    int64_t categories[MAX_NODES * 4];
    size_t n_cat_nodes = 0, n_categories = 0;
    char text[32];

    for (int i = 0; i < t->n; i++) {
        if (t->split_type[i] != 1)
            continue;
        cat_nodes[n_cat_nodes] = i;
        cat_segments[n_cat_nodes] = (int64_t)n_categories;
        cat_sizes[n_cat_nodes] = t->n_cats[i];
        for (int k = 0; k < t->n_cats[i]; k++)
            categories[n_categories++] = t->cats[i][k];
        n_cat_nodes++;
    }
    w_open(w, '{');
    w_key(w, "base_weights");
    w_typed(w, 'd', (size_t)t->n, zeros, NULL);
    w_key(w, "categories");
    w_typed(w, 'l', n_categories, NULL, categories);
    w_key(w, "categories_nodes");
    w_typed(w, 'l', n_cat_nodes, NULL, cat_nodes);
    w_key(w, "categories_segments");
    w_typed(w, 'L', n_cat_nodes, NULL, cat_segments);
    w_key(w, "categories_sizes");
    w_typed(w, 'L', n_cat_nodes, NULL, cat_sizes);
    w_key(w, "default_left");
    w_typed(w, 'U', (size_t)t->n, NULL, t->default_left);
    w_key(w, "id");
    w_int(w, id);
    w_key(w, "left_children");
    w_typed(w, 'l', (size_t)t->n, NULL, t->left);
    w_key(w, "loss_changes");
    w_typed(w, 'd', (size_t)t->n, zeros, NULL);
    w_key(w, "parents");
    w_typed(w, 'l', (size_t)t->n, NULL, t->parent);
    w_key(w, "right_children");
    w_typed(w, 'l', (size_t)t->n, NULL, t->right);
    w_key(w, "split_conditions");
    w_typed(w, 'd', (size_t)t->n, t->cond, NULL);
    w_key(w, "split_indices");
    w_typed(w, 'l', (size_t)t->n, NULL, t->feature);
    w_key(w, "split_type");
    w_typed(w, 'U', (size_t)t->n, NULL, t->split_type);
    w_key(w, "sum_hessian");
    w_typed(w, 'd', (size_t)t->n, zeros, NULL);
    w_key(w, "tree_param");
    w_open(w, '{');
    w_key(w, "num_deleted");
    w_string(w, "0");
    w_key(w, "num_feature");
    snprintf(text, sizeof(text), "%d", r->n_features);
    w_string(w, text);
    w_key(w, "num_nodes");
    snprintf(text, sizeof(text), "%d", t->n);
    w_string(w, text);
    w_key(w, "size_leaf_vector");
    w_string(w, "0");
    w_close(w, '}');
    w_close(w, '}');
}

/* The objective's object: its name and the parameters XGBoost saves with it. */
static void write_objective(writer_t *w, const recipe_t *r)
{
    char text[32];

    w_open(w, '{');
    w_key(w, "name");
    w_string(w, objectives[r->objective].name);
    if (objectives[r->objective].multi) {
        w_key(w, "softmax_multiclass_param");
        w_open(w, '{');
        w_key(w, "num_class");
        snprintf(text, sizeof(text), "%d", r->classes);
        w_string(w, text);
        w_close(w, '}');
    } else if (objectives[r->objective].param != NULL) {
        w_key(w, objectives[r->objective].param);
        w_open(w, '{');
        for (int k = 0; k < 2 && objectives[r->objective].kv[k][0] != NULL; k++) {
            w_key(w, objectives[r->objective].kv[k][0]);
            w_string(w, objectives[r->objective].kv[k][1]);
        }
        w_close(w, '}');
    }
    w_close(w, '}');
}

static void write_model(writer_t *w, const recipe_t *r)
{
    char text[48];
    int t;

    w_open(w, '{');
    w_key(w, "learner");
    w_open(w, '{');
    w_key(w, "attributes");
    w_open(w, '{');
    w_close(w, '}');
    w_key(w, "feature_names");
    w_array(w, 0);
    w_close(w, ']');
    w_key(w, "feature_types");
    w_array(w, 0);
    w_close(w, ']');
    w_key(w, "gradient_booster");
    w_open(w, '{');
    if (r->dart) {
        w_key(w, "gbtree");
        w_open(w, '{');
    }
    w_key(w, "model");
    w_open(w, '{');
    w_key(w, "gbtree_model_param");
    w_open(w, '{');
    w_key(w, "num_parallel_tree");
    w_string(w, "1");
    w_key(w, "num_trees");
    snprintf(text, sizeof(text), "%d", r->n_trees);
    w_string(w, text);
    w_key(w, "size_leaf_vector");
    w_string(w, "0");
    w_close(w, '}');
    w_key(w, "tree_info");
    w_array(w, (size_t)r->n_trees);
    for (t = 0; t < r->n_trees; t++) {
        /* tree_info follows the ids: entry k is tree id k's group */
        int64_t group = 0;

        for (int u = 0; u < r->n_trees; u++)
            if (r->id[u] == t)
                group = r->group[u];
        w_int(w, group);
    }
    w_close(w, ']');
    w_key(w, "trees");
    w_array(w, (size_t)r->n_trees);
    for (t = 0; t < r->n_trees; t++)
        write_tree(w, r, &r->trees[t], r->id[t]);
    w_close(w, ']');
    w_close(w, '}'); /* model */
    if (r->dart) {
        w_key(w, "name");
        w_string(w, "gbtree");
        w_close(w, '}'); /* gbtree */
    }
    w_key(w, "name");
    w_string(w, r->dart ? "dart" : "gbtree");
    if (r->dart) {
        w_key(w, "weight_drop");
        w_array(w, (size_t)r->n_trees);
        for (t = 0; t < r->n_trees; t++) {
            float weight = 0;

            for (int u = 0; u < r->n_trees; u++)
                if (r->id[u] == t)
                    weight = r->weight[u];
            w_float(w, weight);
        }
        w_close(w, ']');
    }
    w_close(w, '}'); /* gradient_booster */
    w_key(w, "learner_model_param");
    w_open(w, '{');
    w_key(w, "base_score");
    base_score_text(r->base_score, text, sizeof(text));
    w_string(w, text);
    w_key(w, "boost_from_average");
    w_string(w, "1");
    w_key(w, "num_class");
    snprintf(text, sizeof(text), "%d", r->classes);
    w_string(w, text);
    w_key(w, "num_feature");
    snprintf(text, sizeof(text), "%d", r->n_features);
    w_string(w, text);
    w_key(w, "num_target");
    w_string(w, "1");
    w_close(w, '}');
    w_key(w, "objective");
    write_objective(w, r);
    w_close(w, '}'); /* learner */
    w_key(w, "version");
    w_array(w, 3);
    w_int(w, 1);
    w_int(w, 7);
    w_int(w, 4);
    w_close(w, ']');
    w_close(w, '}');
}

/* A value of a row: what the trees treat specially, and ordinary values. */
static double take_row_value(src_t *s, const recipe_t *r)
{
    uint8_t b = take(s);

    switch (b % 16) {
    case 0:
        return NAN;
    case 1:
        return INFINITY;
    case 2:
        return -INFINITY;
    case 3:
        return b & 16 ? 0.0 : -0.0;
    case 4:
    case 5:
    case 6: {
        /* a split's own condition, or the float next to it */
        const gtree_t *t = r->n_trees > 0 ? &r->trees[take(s) % r->n_trees] : NULL;
        float c = t != NULL ? t->cond[take(s) % t->n] : 0.0f;
        if (b % 16 == 5)
            c = nextafterf(c, INFINITY);
        else if (b % 16 == 6)
            c = nextafterf(c, -INFINITY);
        return c;
    }
    case 7:
        return (double)take_category(s) + (b & 16 ? 0.5 : 0.0);
    case 8:
        return b & 16 ? 16777216.0 : -0.5;
    case 9: {
        uint64_t bits = (uint64_t)take32(s) << 32 | take32(s);
        double v;
        memcpy(&v, &bits, sizeof(v));
        return v;
    }
    case 10:
        return b & 16 ? 3.4028235677973366e38 : 3.4028235677973370e38;
    default:
        return (double)((int)take(s) - 128) / 8.0;
    }
}

/* ---- Both engines ----------------------------------------------------------------------- */

/* Returns 0, or -1 when XGBoost cannot predict with the model. */
static int compare(const char *what, const unsigned char *model, size_t len, int ubj,
                   xgb_forest_t *forest, BoosterHandle booster, const double *x, size_t rows,
                   size_t n_features)
{
    static float xf[MAX_ROWS * RAW_MAX_FEATURES], native[MAX_ROWS * 8];
    const float *reference;
    const bst_ulong *shape;
    bst_ulong dim, count = 1;
    size_t per_row = xgb_forest_per_row(forest), i;
    char values[256];

    if (per_row > 8 || rows > MAX_ROWS || n_features > RAW_MAX_FEATURES)
        abort();
    for (i = 0; i < rows * n_features; i++)
        xf[i] = (float)x[i]; /* as the plugin hands XGBoost a batch */
    snprintf(values, sizeof(values),
             "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\","
             "\"version\":3}",
             (uintptr_t)xf, rows, n_features);
    if (XGBoosterPredictFromDense(booster, values, PREDICT_CONFIG, NULL, &shape, &dim,
                                  &reference) != 0) {
        /* the plugin's create() probes a row of missing values and refuses such a model */
        return -1;
    }
    for (i = 0; i < dim; i++)
        count *= shape[i];
    if (count != rows * per_row) {
        fprintf(stderr, "%s: XGBoost predicted %zu values for %zu rows of %zu\n", what,
                (size_t)count, rows, per_row);
        abort();
    }
    xgb_forest_predict(forest, x, rows, native);
    for (i = 0; i < rows * per_row; i++) {
        if (memcmp(&native[i], &reference[i], sizeof(float)) == 0 ||
            (isnan(native[i]) && isnan(reference[i])))
            continue;
        fprintf(stderr, "%s: row %zu value %zu: native %.9g, XGBoost %.9g\nrow:", what, i / per_row,
                i % per_row, (double)native[i], (double)reference[i]);
        for (size_t j = 0; j < n_features; j++)
            fprintf(stderr, " %.17g", x[i / per_row * n_features + j]);
        fprintf(stderr, "\nmodel (%s):\n", ubj ? "UBJSON" : "JSON");
        if (!ubj)
            fprintf(stderr, "%.*s\n", (int)len, (const char *)model);
        abort();
    }
    return 0;
}

static BoosterHandle xgboost_load(const unsigned char *model, size_t len)
{
    BoosterHandle booster;

    if (XGBoosterCreate(NULL, 0, &booster) != 0 || XGBoosterSetParam(booster, "nthread", "1") != 0)
        abort();
    if (XGBoosterLoadModelFromBuffer(booster, model, len) != 0) {
        XGBoosterFree(booster);
        return NULL;
    }
    return booster;
}

static void run_recipe(src_t *s, int ubj)
{
    recipe_t r;
    writer_t w = {0};
    xgb_model_t model;
    xgb_forest_t *forest;
    BoosterHandle booster;
    double x[MAX_ROWS * MAX_FEATURES];
    size_t rows, i;
    char why[512];

    take_recipe(s, &r, ubj);
    w.ubj = ubj;
    write_model(&w, &r);
    if (xgb_model_read(w.out.data, w.out.len, ubj, &model, why, sizeof(why)) != 0 ||
        xgb_model_check(&model, why, sizeof(why)) != 0) {
        fprintf(stderr, "the plugin refuses a model XGBoost writes: %s\n%.*s\n", why,
                ubj ? 0 : (int)w.out.len, w.out.data);
        abort();
    }
    forest = xgb_forest_compile(&model, why, sizeof(why));
    xgb_model_free(&model);
    if (forest == NULL) {
        fprintf(stderr, "the native engine refuses a model XGBoost writes: %s\n", why);
        abort();
    }
    booster = xgboost_load((const unsigned char *)w.out.data, w.out.len);
    if (booster == NULL) {
        fprintf(stderr, "XGBoost refuses a model the recipe wrote: %s\n%.*s\n", XGBGetLastError(),
                ubj ? 0 : (int)w.out.len, w.out.data);
        abort();
    }
    rows = 1 + take(s) % MAX_ROWS;
    for (i = 0; i < rows * (size_t)r.n_features; i++)
        x[i] = take_row_value(s, &r);
    if (compare("recipe", (const unsigned char *)w.out.data, w.out.len, ubj, forest, booster, x,
                rows, (size_t)r.n_features) != 0) {
        fprintf(stderr, "XGBoost cannot predict with a model the recipe wrote: %s\n",
                XGBGetLastError());
        abort();
    }
    XGBoosterFree(booster);
    xgb_forest_free(forest);
    free(w.out.data);
}

static uint64_t hash(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    return h;
}

static void run_file(const uint8_t *data, size_t size, int ubj)
{
    xgb_model_t model;
    xgb_forest_t *forest;
    BoosterHandle booster;
    double x[MAX_ROWS * RAW_MAX_FEATURES];
    size_t rows = 8, n_features, i;
    uint64_t h = hash(data, size);
    char why[512];

    if (xgb_model_read(data, size, ubj, &model, why, sizeof(why)) != 0) {
        if (why[0] == '\0' || strchr(why, '\n') != NULL)
            abort(); /* every refusal says why, on one line */
        return;
    }
    if (xgb_model_check(&model, why, sizeof(why)) != 0) {
        xgb_model_free(&model);
        return;
    }
    n_features = (size_t)model.num_feature;
    forest = xgb_forest_compile(&model, why, sizeof(why));
    xgb_model_free(&model);
    if (forest == NULL)
        return;
    if (n_features > RAW_MAX_FEATURES || xgb_forest_per_row(forest) > 8) {
        xgb_forest_free(forest);
        return;
    }
    /* What the plugin accepts, XGBoost can load without crashing. */
    booster = xgboost_load(data, size);
    if (booster != NULL) {
        for (i = 0; i < rows * n_features; i++) {
            static const double values[] = {NAN, INFINITY, -INFINITY,  0.0,  -0.0,  1.0,  -1.0, 0.5,
                                            2.0, 3.0,      16777216.0, -0.5, 1e-40, 100.0};
            h = h * 6364136223846793005ULL + 1442695040888963407ULL;
            x[i] = values[(h >> 33) % (sizeof(values) / sizeof(values[0]))];
        }
        (void)compare("file", data, size, ubj, forest, booster, x, rows, n_features);
        XGBoosterFree(booster);
    }
    xgb_forest_free(forest);
}

/* ---- Seeds, setup, the target -------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* Recipes of every objective and booster, and the model files they write. */
static void write_seeds(const char *dir)
{
    uint8_t recipe[160];
    char name[64];

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        exit(1);
    }
    for (unsigned k = 0; k < 2 * N_OBJECTIVES; k++) {
        recipe_t r;
        writer_t w = {0};
        src_t s;
        uint64_t h = 88172645463325252ULL ^ k;

        for (size_t i = 0; i < sizeof(recipe); i++) {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            recipe[i] = (uint8_t)h;
        }
        recipe[0] = (uint8_t)(2 * (k & 1));   /* a recipe, JSON or UBJSON */
        recipe[1] = (uint8_t)(k / 2);         /* the objective */
        recipe[2] = (uint8_t)(k & 2 ? 3 : 2); /* dart or not, 2 classes where multi */
        recipe[4] = 2;                        /* trees */
        snprintf(name, sizeof(name), "recipe-%02u", k);
        write_file(dir, name, recipe, sizeof(recipe));
        s = (src_t){recipe + 1, sizeof(recipe) - 1};
        take_recipe(&s, &r, k & 1);
        w.ubj = k & 1;
        put_byte(&w.out, (char)(1 | 2 * (k & 1))); /* a model file, JSON or UBJSON */
        write_model(&w, &r);
        snprintf(name, sizeof(name), "file-%02u.%s", k, k & 1 ? "ubj" : "json");
        write_file(dir, name, w.out.data, w.out.len);
        free(w.out.data);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    void (*set_threads)(int);

    for (int i = 1; i < *argc; i++) {
        if (strncmp((*argv)[i], "--write-seeds=", 14) == 0) {
            write_seeds((*argv)[i] + 14);
            exit(0);
        }
    }
    /* XGBoost's default number of threads is OpenMP's: one, before its first call. */
    set_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (set_threads == NULL) {
        fprintf(stderr, "fuzz_xgboost: omp_set_num_threads not found: %s\n", dlerror());
        abort();
    }
    set_threads(1);
    if (XGBSetGlobalConfig("{\"verbosity\":0}") != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    src_t s;

    if (size == 0)
        return 0;
    if (data[0] & 1) {
        run_file(data + 1, size - 1, (data[0] & 2) != 0);
        return 0;
    }
    s = (src_t){data + 1, size - 1};
    run_recipe(&s, (data[0] & 2) != 0);
    return 0;
}
