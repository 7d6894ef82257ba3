/* xgb_model.c: a model saved by XGBoost (JSON or UBJSON) read into its trees' arrays, the
 * check of those trees that both engines rely on, and the objectives the native engine
 * knows (xgb_internal.h). The schema is XGBoost 1.7's (src/learner.cc, src/gbm/gbtree.cc,
 * src/tree/tree_model.cc): what XGBoost requires is required here, unknown keys are skipped. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xgb_internal.h"

/* Categories XGBoost can match: it sends a value at or beyond 2^24 (and a negative one) left
 * as "not a category of the split" (common/categorical.h, OutOfRangeCat). */
#define XGB_CATEGORY_LIMIT 16777216

const char xgb_objectives_known[] =
    "reg:squarederror, reg:squaredlogerror, reg:logistic, reg:pseudohubererror, "
    "reg:absoluteerror, reg:gamma, reg:tweedie, reg:linear, binary:logistic, binary:logitraw, "
    "binary:hinge, count:poisson, survival:cox, survival:aft, multi:softmax, multi:softprob, "
    "rank:pairwise, rank:ndcg, rank:map";

int xgb_objective_link(const char *objective)
{
    static const struct {
        const char *name;
        xgb_link_t link;
    } table[] = {
        {"reg:squarederror", XGB_LINK_IDENTITY},
        {"reg:linear", XGB_LINK_IDENTITY}, /* the old name of reg:squarederror */
        {"reg:squaredlogerror", XGB_LINK_IDENTITY},
        {"reg:pseudohubererror", XGB_LINK_IDENTITY},
        {"reg:absoluteerror", XGB_LINK_IDENTITY},
        {"binary:logitraw", XGB_LINK_IDENTITY},
        {"rank:pairwise", XGB_LINK_IDENTITY},
        {"rank:ndcg", XGB_LINK_IDENTITY},
        {"rank:map", XGB_LINK_IDENTITY},
        {"reg:logistic", XGB_LINK_LOGIT},
        {"binary:logistic", XGB_LINK_LOGIT},
        {"count:poisson", XGB_LINK_LOG},
        {"reg:gamma", XGB_LINK_LOG},
        {"reg:tweedie", XGB_LINK_LOG},
        {"survival:cox", XGB_LINK_LOG},
        {"survival:aft", XGB_LINK_LOG_AFT},
        {"binary:hinge", XGB_LINK_HINGE},
        {"multi:softmax", XGB_LINK_SOFTMAX},
        {"multi:softprob", XGB_LINK_SOFTPROB},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(objective, table[i].name) == 0)
            return (int)table[i].link;
    return -1;
}

void xgb_model_free(xgb_model_t *m)
{
    size_t i;

    for (i = 0; i < m->n_feature_names; i++)
        free(m->feature_names[i]);
    free(m->feature_names);
    for (i = 0; i < m->n_trees; i++) {
        xgb_tree_t *t = &m->trees[i];

        free(t->left);
        free(t->right);
        free(t->parent);
        free(t->split_index);
        free(t->split_condition);
        free(t->default_left);
        free(t->split_type);
        free(t->cat_nodes);
        free(t->cat_segments);
        free(t->cat_sizes);
        free(t->categories);
    }
    free(m->trees);
    free(m->tree_info);
    free(m->weight_drop);
    memset(m, 0, sizeof(*m));
}

/* ---- Reading ----------------------------------------------------------------------------------
 */

typedef struct walk {
    xgb_reader_t r;
    xgb_model_t *m;
    char where[160]; /* what is being read, for a message */
    /* What the model's objects held, for the checks at the end. */
    int have_learner, have_model_param, have_base_score, have_num_feature, have_num_class;
    int have_objective, have_booster_name, have_model, have_trees, have_tree_info;
    int have_num_trees, have_weight_drop;
    int model_in_gbtree; /* the trees came from gradient_booster.gbtree.model (dart's place) */
} walk_t;

/* Fails with a message of the walker's own (what it says includes where). */
static int fail(walk_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(walk_t *w, const char *fmt, ...)
{
    char message[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    w->where[0] = '\0';
    return xgb_reader_fail(&w->r, "%s", message);
}

static void where(walk_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void where(walk_t *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(w->where, sizeof(w->where), fmt, ap);
    va_end(ap);
}

static int key_is(const char *key, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(key, name, len) == 0;
}

/* Marks key @bit of an object seen; fails when it was already (XGBoost's objects keep one
 * of two equal keys, JSON the last and UBJSON the first: a file holding both is refused). */
static int once(walk_t *w, unsigned *seen, unsigned bit, const char *key)
{
    if (*seen & (1u << bit))
        return fail(w, "%s%s%s appears twice", w->where, w->where[0] ? ": " : "", key);
    *seen |= 1u << bit;
    return 0;
}

/* Grows *@a (of @size-byte elements, *@cap of them) to hold @n. */
static int grow(walk_t *w, void **a, size_t *cap, size_t n, size_t size)
{
    size_t want = *cap == 0 ? 16 : *cap;
    void *b;

    if (n <= *cap)
        return 0;
    while (want < n)
        want *= 2;
    if (want > SIZE_MAX / size || (b = realloc(*a, want * size)) == NULL)
        return fail(w, "out of memory reading the model");
    *a = b;
    *cap = want;
    return 0;
}

/* The first capacity of an array of @count elements (-1: unknown). */
static size_t first_cap(int64_t count)
{
    return count > 0 ? (size_t)count : 0;
}

static int read_ints(walk_t *w, int64_t **out, size_t *n)
{
    int64_t count, v;
    size_t cap = 0;
    int more;

    if (*out != NULL)
        return fail(w, "%s appears twice", w->where);
    if (xgb_reader_array(&w->r, &count) != 0)
        return -1;
    *n = 0;
    if (count > 0 && grow(w, (void **)out, &cap, first_cap(count), sizeof(**out)) != 0)
        return -1;
    while ((more = xgb_reader_more(&w->r)) > 0) {
        if (xgb_reader_integer(&w->r, &v) != 0 ||
            grow(w, (void **)out, &cap, *n + 1, sizeof(**out)) != 0)
            return -1;
        (*out)[(*n)++] = v;
    }
    if (more == 0 && *out == NULL && (*out = malloc(sizeof(**out))) == NULL)
        return fail(w, "out of memory reading the model");
    return more;
}

/* Floats into *@out, or only counted when @out is NULL (XGBoost's statistics). */
static int read_floats(walk_t *w, float **out, size_t *n, int *seen)
{
    int64_t count;
    size_t cap = 0;
    float v;
    int more;

    if (*seen)
        return fail(w, "%s appears twice", w->where);
    *seen = 1;
    if (xgb_reader_array(&w->r, &count) != 0)
        return -1;
    *n = 0;
    if (out != NULL && count > 0 &&
        grow(w, (void **)out, &cap, first_cap(count), sizeof(**out)) != 0)
        return -1;
    while ((more = xgb_reader_more(&w->r)) > 0) {
        if (xgb_reader_float(&w->r, &v) != 0)
            return -1;
        if (out != NULL) {
            if (grow(w, (void **)out, &cap, *n + 1, sizeof(**out)) != 0)
                return -1;
            (*out)[*n] = v;
        }
        (*n)++;
    }
    if (more == 0 && out != NULL && *out == NULL && (*out = malloc(sizeof(**out))) == NULL)
        return fail(w, "out of memory reading the model");
    return more;
}

/* Flags (default_left) or small integers (split_type: a value beyond 255 is kept as 255,
 * which is neither split type) into bytes. */
static int read_bytes(walk_t *w, uint8_t **out, size_t *n, int flags)
{
    int64_t count, v;
    size_t cap = 0;
    int more, flag;

    if (*out != NULL)
        return fail(w, "%s appears twice", w->where);
    if (xgb_reader_array(&w->r, &count) != 0)
        return -1;
    *n = 0;
    if (count > 0 && grow(w, (void **)out, &cap, first_cap(count), 1) != 0)
        return -1;
    while ((more = xgb_reader_more(&w->r)) > 0) {
        if (flags) {
            if (xgb_reader_flag(&w->r, &flag) != 0)
                return -1;
            v = flag;
        } else if (xgb_reader_integer(&w->r, &v) != 0) {
            return -1;
        }
        if (grow(w, (void **)out, &cap, *n + 1, 1) != 0)
            return -1;
        (*out)[(*n)++] = v < 0 || v > 255 ? 255 : (uint8_t)v;
    }
    if (more == 0 && *out == NULL && (*out = malloc(1)) == NULL)
        return fail(w, "out of memory reading the model");
    return more;
}

/* XGBoost writes its parameters as strings: a whole number, not negative. */
static int read_param_long(walk_t *w, long *value)
{
    char *s, *end;
    size_t len;
    long v;

    if (xgb_reader_string(&w->r, &s, &len) != 0)
        return -1;
    v = strtol(s, &end, 10);
    if (len == 0 || *end != '\0' || s[0] < '0' || s[0] > '9' || v < 0 || v > INT32_MAX) {
        fail(w, "%s: \"%.32s\" is not a whole number from 0 to %d", w->where, s, INT32_MAX);
        free(s);
        return -1;
    }
    free(s);
    *value = v;
    return 0;
}

/* base_score as XGBoost reads it (its from_chars): digits with a point and an exponent, at
 * most 9 significant digits. XGBoost silently keeps its default 0.5 for any other text, so
 * such a model is refused rather than read two ways. */
static int read_base_score(walk_t *w, float *value)
{
    char *s, *end;
    size_t len, i = 0, digits = 0;
    int nonzero = 0, ok = 1;

    if (xgb_reader_string(&w->r, &s, &len) != 0)
        return -1;
    if (s[i] == '-')
        i++;
    if (!(s[i] >= '0' && s[i] <= '9') && !(s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9'))
        ok = 0;
    for (; ok && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'); i++) {
        if (s[i] == '.')
            continue;
        nonzero |= s[i] != '0';
        digits += nonzero;
    }
    if (ok && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;

        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        if (!(s[i] >= '0' && s[i] <= '9'))
            ok = 0;
        for (nonzero = 0; ok && s[i] >= '0' && s[i] <= '9'; i++) {
            nonzero |= s[i] != '0';
            e += nonzero;
        }
        ok = ok && e <= 3;
    }
    ok = ok && i == len && digits <= 9 && strchr(s, '.') == strrchr(s, '.');
    if (ok) {
        *value = strtof(s, &end);
        ok = *end == '\0';
    }
    if (!ok)
        fail(w,
             "%s: \"%.32s\" is not a number XGBoost reads (digits, a point and an exponent, at "
             "most 9 significant digits): XGBoost would use 0.5 instead",
             w->where, s);
    free(s);
    return ok ? 0 : -1;
}

/* An object whose members are XGBoost parameters: the ones named in @keys are read into
 * @values (as whole numbers), the others skipped. */
static int read_params(walk_t *w, const char *const *keys, long **values, size_t n, int *found)
{
    const char *key;
    size_t len, i;
    unsigned seen = 0;
    int more;
    char at[160];

    snprintf(at, sizeof(at), "%s", w->where);
    if (xgb_reader_object(&w->r) != 0)
        return -1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        for (i = 0; i < n; i++)
            if (key_is(key, len, keys[i]))
                break;
        if (i == n) {
            if (xgb_reader_skip(&w->r) != 0)
                return -1;
            continue;
        }
        where(w, "%s.%s", at, keys[i]);
        if (once(w, &seen, (unsigned)i, keys[i]) != 0 || read_param_long(w, values[i]) != 0)
            return -1;
        found[i] = 1;
    }
    snprintf(w->where, sizeof(w->where), "%s", at);
    return more;
}

static int read_tree_param(walk_t *w, xgb_tree_t *t)
{
    static const char *const keys[] = {"num_nodes"};
    long *values[] = {&t->num_nodes};
    int found[1] = {0};

    return read_params(w, keys, values, 1, found);
}

/* One tree of the trees array. */
static int read_tree(walk_t *w, xgb_tree_t *t, size_t index)
{
    enum {
        K_LEFT,
        K_RIGHT,
        K_PARENTS,
        K_SPLIT_INDICES,
        K_SPLIT_CONDITIONS,
        K_DEFAULT_LEFT,
        K_SPLIT_TYPE,
        K_CATEGORIES,
        K_CATEGORIES_NODES,
        K_CATEGORIES_SEGMENTS,
        K_CATEGORIES_SIZES,
        K_BASE_WEIGHTS,
        K_LOSS_CHANGES,
        K_SUM_HESSIAN,
        K_ID,
        K_TREE_PARAM,
        K_COUNT
    };
    static const char *const names[K_COUNT] = {
        "left_children",       "right_children",   "parents",
        "split_indices",       "split_conditions", "default_left",
        "split_type",          "categories",       "categories_nodes",
        "categories_segments", "categories_sizes", "base_weights",
        "loss_changes",        "sum_hessian",      "id",
        "tree_param",
    };
    const char *key;
    size_t len, k;
    unsigned seen = 0;
    int more, rc = 0, stat_seen[3] = {0, 0, 0};

    t->id = -1;
    t->num_nodes = -1;
    where(w, "tree %zu", index);
    if (xgb_reader_object(&w->r) != 0)
        return -1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        for (k = 0; k < K_COUNT; k++)
            if (key_is(key, len, names[k]))
                break;
        if (k == K_COUNT) {
            if (xgb_reader_skip(&w->r) != 0)
                return -1;
            continue;
        }
        where(w, "tree %zu", index);
        if (once(w, &seen, (unsigned)k, names[k]) != 0)
            return -1;
        where(w, "tree %zu: %s", index, names[k]);
        switch (k) {
        case K_LEFT:
            rc = read_ints(w, &t->left, &t->n_left);
            break;
        case K_RIGHT:
            rc = read_ints(w, &t->right, &t->n_right);
            break;
        case K_PARENTS:
            rc = read_ints(w, &t->parent, &t->n_parent);
            break;
        case K_SPLIT_INDICES:
            rc = read_ints(w, &t->split_index, &t->n_split_index);
            break;
        case K_SPLIT_CONDITIONS: {
            int unused = 0;
            rc = read_floats(w, &t->split_condition, &t->n_split_condition, &unused);
            break;
        }
        case K_DEFAULT_LEFT:
            rc = read_bytes(w, &t->default_left, &t->n_default_left, 1);
            break;
        case K_SPLIT_TYPE:
            rc = read_bytes(w, &t->split_type, &t->n_split_type, 0);
            break;
        case K_CATEGORIES:
            rc = read_ints(w, &t->categories, &t->n_categories);
            break;
        case K_CATEGORIES_NODES:
            rc = read_ints(w, &t->cat_nodes, &t->n_cat_nodes);
            break;
        case K_CATEGORIES_SEGMENTS:
            rc = read_ints(w, &t->cat_segments, &t->n_cat_segments);
            break;
        case K_CATEGORIES_SIZES:
            rc = read_ints(w, &t->cat_sizes, &t->n_cat_sizes);
            break;
        case K_BASE_WEIGHTS:
            rc = read_floats(w, NULL, &t->n_base_weights, &stat_seen[0]);
            break;
        case K_LOSS_CHANGES:
            rc = read_floats(w, NULL, &t->n_loss_changes, &stat_seen[1]);
            break;
        case K_SUM_HESSIAN:
            rc = read_floats(w, NULL, &t->n_sum_hessian, &stat_seen[2]);
            break;
        case K_ID:
            rc = xgb_reader_integer(&w->r, &t->id);
            break;
        case K_TREE_PARAM:
            rc = read_tree_param(w, t);
            break;
        }
        if (rc < 0)
            return -1;
    }
    if (more < 0)
        return -1;
    /* What XGBoost requires of every tree (the categories only with split_type). */
    for (k = 0; k < K_COUNT; k++) {
        if (seen & (1u << k))
            continue;
        if (k == K_SPLIT_TYPE ||
            (k >= K_CATEGORIES && k <= K_CATEGORIES_SIZES && !(seen & (1u << K_SPLIT_TYPE))))
            continue;
        return fail(w, "tree %zu: %s is missing (a damaged model file)", index, names[k]);
    }
    if (t->num_nodes < 0)
        return fail(w, "tree %zu: tree_param.num_nodes is missing (a damaged model file)", index);
    return 0;
}

static int read_trees(walk_t *w)
{
    xgb_model_t *m = w->m;
    size_t cap = 0;
    int64_t count;
    int more;

    if (w->have_trees)
        return fail(w, "the booster's trees appear twice");
    w->have_trees = 1;
    if (xgb_reader_array(&w->r, &count) != 0)
        return -1;
    while ((more = xgb_reader_more(&w->r)) > 0) {
        if (grow(w, (void **)&m->trees, &cap, m->n_trees + 1, sizeof(*m->trees)) != 0)
            return -1;
        memset(&m->trees[m->n_trees], 0, sizeof(*m->trees));
        m->n_trees++;
        if (read_tree(w, &m->trees[m->n_trees - 1], m->n_trees - 1) != 0)
            return -1;
    }
    return more;
}

/* gradient_booster.model (gbtree), or gradient_booster.gbtree.model (dart). */
static int read_gbtree_model(walk_t *w)
{
    static const char *const param_keys[] = {"num_trees", "size_leaf_vector"};
    long *param_values[] = {&w->m->num_trees, &w->m->size_leaf_vector};
    int found[2] = {0, 0};
    const char *key;
    size_t len;
    unsigned seen = 0;
    int more, rc;

    if (w->have_model)
        return fail(w, "the booster's model appears twice");
    w->have_model = 1;
    if (xgb_reader_object(&w->r) != 0)
        return -1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        where(w, "learner.gradient_booster.model");
        if (key_is(key, len, "trees")) {
            rc = read_trees(w);
        } else if (key_is(key, len, "tree_info")) {
            where(w, "learner.gradient_booster.model.tree_info");
            rc = once(w, &seen, 0, "tree_info");
            if (rc == 0)
                rc = read_ints(w, &w->m->tree_info, &w->m->n_tree_info);
            w->have_tree_info = 1;
        } else if (key_is(key, len, "gbtree_model_param")) {
            rc = once(w, &seen, 1, "gbtree_model_param");
            where(w, "learner.gradient_booster.model.gbtree_model_param");
            if (rc == 0)
                rc = read_params(w, param_keys, param_values, 2, found);
            w->have_num_trees |= found[0];
        } else {
            rc = xgb_reader_skip(&w->r);
        }
        if (rc < 0)
            return -1;
    }
    return more;
}

/* gradient_booster.gbtree: dart's inner gbtree. */
static int read_dart_gbtree(walk_t *w)
{
    const char *key;
    size_t len;
    int more;

    if (xgb_reader_object(&w->r) != 0)
        return -1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        if (key_is(key, len, "model")) {
            w->model_in_gbtree = 1;
            if (read_gbtree_model(w) != 0)
                return -1;
        } else if (xgb_reader_skip(&w->r) != 0) {
            return -1;
        }
    }
    return more;
}

static int read_booster(walk_t *w)
{
    const char *key;
    size_t len;
    unsigned seen = 0;
    int more, rc;
    char *name;

    if (xgb_reader_object(&w->r) != 0)
        return -1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        where(w, "learner.gradient_booster");
        if (key_is(key, len, "name")) {
            where(w, "learner.gradient_booster.name");
            rc = once(w, &seen, 0, "name");
            if (rc == 0 && (rc = xgb_reader_string(&w->r, &name, &len)) == 0) {
                snprintf(w->m->booster, sizeof(w->m->booster), "%.31s", name);
                w->have_booster_name = 1;
                free(name);
            }
        } else if (key_is(key, len, "model")) {
            rc = read_gbtree_model(w);
        } else if (key_is(key, len, "gbtree")) {
            rc = read_dart_gbtree(w);
        } else if (key_is(key, len, "weight_drop")) {
            where(w, "learner.gradient_booster.weight_drop");
            rc = read_floats(w, &w->m->weight_drop, &w->m->n_weight_drop, &w->have_weight_drop);
        } else {
            rc = xgb_reader_skip(&w->r);
        }
        if (rc < 0)
            return -1;
    }
    return more;
}

static int read_objective(walk_t *w)
{
    static const char *const param_keys[] = {"num_class"};
    long *param_values[] = {&w->m->objective_num_class};
    int found[1] = {0};
    const char *key;
    size_t len;
    unsigned seen = 0;
    int more, rc;
    char *name;

    if (xgb_reader_object(&w->r) != 0)
        return -1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        if (key_is(key, len, "name")) {
            where(w, "learner.objective.name");
            rc = once(w, &seen, 0, "name");
            if (rc == 0 && (rc = xgb_reader_string(&w->r, &name, &len)) == 0) {
                if (len >= sizeof(w->m->objective) || strlen(name) != len)
                    rc = fail(w, "objective \"%.64s\" is not one of XGBoost's", name);
                else
                    memcpy(w->m->objective, name, len + 1);
                w->have_objective = 1;
                free(name);
            }
        } else if (key_is(key, len, "softmax_multiclass_param")) {
            where(w, "learner.objective.softmax_multiclass_param");
            rc = once(w, &seen, 1, "softmax_multiclass_param");
            if (rc == 0)
                rc = read_params(w, param_keys, param_values, 1, found);
        } else {
            rc = xgb_reader_skip(&w->r);
        }
        if (rc < 0)
            return -1;
    }
    return more;
}

static int read_model_param(walk_t *w)
{
    const char *key;
    size_t len;
    unsigned seen = 0;
    int more, rc;

    if (xgb_reader_object(&w->r) != 0)
        return -1;
    w->have_model_param = 1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        where(w, "learner.learner_model_param");
        if (key_is(key, len, "base_score")) {
            where(w, "learner.learner_model_param.base_score");
            rc = once(w, &seen, 0, "base_score");
            if (rc == 0)
                rc = read_base_score(w, &w->m->base_score);
            w->have_base_score = 1;
        } else if (key_is(key, len, "num_feature")) {
            where(w, "learner.learner_model_param.num_feature");
            rc = once(w, &seen, 1, "num_feature");
            if (rc == 0)
                rc = read_param_long(w, &w->m->num_feature);
            w->have_num_feature = 1;
        } else if (key_is(key, len, "num_class")) {
            where(w, "learner.learner_model_param.num_class");
            rc = once(w, &seen, 2, "num_class");
            if (rc == 0)
                rc = read_param_long(w, &w->m->num_class);
            w->have_num_class = 1;
        } else if (key_is(key, len, "num_target")) {
            where(w, "learner.learner_model_param.num_target");
            rc = once(w, &seen, 3, "num_target");
            if (rc == 0)
                rc = read_param_long(w, &w->m->num_target);
        } else {
            rc = xgb_reader_skip(&w->r);
        }
        if (rc < 0)
            return -1;
    }
    return more;
}

static int read_feature_names(walk_t *w)
{
    xgb_model_t *m = w->m;
    size_t cap = 0, len;
    int64_t count;
    int more;
    char *name;

    if (m->feature_names != NULL)
        return fail(w, "learner.feature_names appears twice");
    if (xgb_reader_array(&w->r, &count) != 0)
        return -1;
    while ((more = xgb_reader_more(&w->r)) > 0) {
        if (grow(w, (void **)&m->feature_names, &cap, m->n_feature_names + 1,
                 sizeof(*m->feature_names)) != 0 ||
            xgb_reader_string(&w->r, &name, &len) != 0)
            return -1;
        m->feature_names[m->n_feature_names++] = name;
        if (strlen(name) != len)
            return fail(w, "learner.feature_names: feature %zu's name holds a NUL byte",
                        m->n_feature_names);
    }
    return more;
}

static int read_learner(walk_t *w)
{
    const char *key;
    size_t len;
    unsigned seen = 0;
    int more, rc;

    if (xgb_reader_object(&w->r) != 0)
        return -1;
    w->have_learner = 1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        where(w, "learner");
        if (key_is(key, len, "learner_model_param")) {
            rc = once(w, &seen, 0, "learner_model_param");
            if (rc == 0)
                rc = read_model_param(w);
        } else if (key_is(key, len, "objective")) {
            rc = once(w, &seen, 1, "objective");
            if (rc == 0)
                rc = read_objective(w);
        } else if (key_is(key, len, "gradient_booster")) {
            rc = once(w, &seen, 2, "gradient_booster");
            if (rc == 0)
                rc = read_booster(w);
        } else if (key_is(key, len, "feature_names")) {
            where(w, "learner.feature_names");
            rc = read_feature_names(w);
        } else {
            rc = xgb_reader_skip(&w->r);
        }
        if (rc < 0)
            return -1;
    }
    return more;
}

static int read_document(walk_t *w)
{
    const char *key;
    size_t len;
    unsigned seen = 0;
    int more;

    if (xgb_reader_peek(&w->r) != XGB_VALUE_OBJECT)
        return xgb_reader_object(&w->r); /* says what is there instead */
    if (xgb_reader_object(&w->r) != 0)
        return -1;
    while ((more = xgb_reader_key(&w->r, &key, &len)) > 0) {
        w->where[0] = '\0';
        if (key_is(key, len, "learner")) {
            if (once(w, &seen, 0, "learner") != 0)
                return -1;
            where(w, "learner");
            if (read_learner(w) != 0)
                return -1;
        } else if (xgb_reader_skip(&w->r) != 0) {
            return -1;
        }
    }
    if (more < 0)
        return -1;
    w->where[0] = '\0';
    return xgb_reader_end(&w->r);
}

/* What the whole document must have held. */
static int read_complete(walk_t *w)
{
    xgb_model_t *m = w->m;

    if (!w->have_learner)
        return fail(w, "no learner: not a model saved by XGBoost's save_model");
    if (!w->have_booster_name)
        return fail(w, "learner.gradient_booster.name is missing (a damaged model file)");
    /* XGBoost 1.7 predicts in place with trees only. */
    if (strcmp(m->booster, "gbtree") != 0 && strcmp(m->booster, "dart") != 0)
        return fail(w, "booster %s is not supported: use gbtree or dart", m->booster);
    if (m->num_target > 1)
        return fail(w, "the model predicts %ld targets: only one is supported", m->num_target);
    if (!w->have_model_param || !w->have_base_score || !w->have_num_feature || !w->have_num_class)
        return fail(w, "learner.learner_model_param lacks %s (a damaged model file)",
                    !w->have_model_param   ? "everything"
                    : !w->have_base_score  ? "base_score"
                    : !w->have_num_feature ? "num_feature"
                                           : "num_class");
    if (!w->have_objective)
        return fail(w, "learner.objective.name is missing (a damaged model file)");
    if (!w->have_model || !w->have_trees || !w->have_tree_info || !w->have_num_trees)
        return fail(w, "learner.gradient_booster lacks %s (a damaged model file)",
                    !w->have_model       ? "its model"
                    : !w->have_trees     ? "model.trees"
                    : !w->have_tree_info ? "model.tree_info"
                                         : "model.gbtree_model_param.num_trees");
    /* XGBoost reads a gbtree's trees from its model, a dart's from its gbtree's model. */
    if (w->model_in_gbtree != (strcmp(m->booster, "dart") == 0))
        return fail(w,
                    "learner.gradient_booster: a %s booster keeps its trees in %s (a damaged "
                    "model file)",
                    m->booster, w->model_in_gbtree ? "model" : "gbtree.model");
    if (strcmp(m->booster, "dart") == 0 && !w->have_weight_drop)
        return fail(w, "learner.gradient_booster.weight_drop is missing: a dart booster "
                       "weighs its trees (a damaged model file)");
    return 0;
}

int xgb_model_read(const void *data, size_t len, int ubj, xgb_model_t *m, char *why,
                   size_t why_size)
{
    walk_t w;
    int rc;

    memset(m, 0, sizeof(*m));
    m->num_target = 1;
    m->objective_num_class = -1;
    m->base_score = 0.5f;
    memset(&w, 0, sizeof(w));
    w.m = m;
    xgb_reader_init(&w.r, data, len, ubj);
    rc = read_document(&w);
    if (rc == 0)
        rc = read_complete(&w);
    if (rc != 0) {
        const char *e = xgb_reader_error(&w.r);

        if (e == NULL)
            e = "unreadable";
        if (w.r.syntax || w.where[0] == '\0')
            snprintf(why, why_size, "%s", e);
        else
            snprintf(why, why_size, "%s: %s", w.where, e);
        xgb_model_free(m);
    }
    xgb_reader_free(&w.r);
    return rc != 0 ? -1 : 0;
}

/* ---- The check --------------------------------------------------------------------------------
 */

static int check_fail(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int check_fail(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Tree @t of a model reading @n_features features: its arrays describe the same nodes, every
 * split node leads to two nodes not reached before (so the walk from the root ends at a
 * leaf), every split reads a feature of the row, every categorical split's categories lie
 * within the tree's list and within XGBoost's range, every node but the root has a parent
 * among the nodes (XGBoost's loader reads it unchecked). */
static int check_tree(const xgb_tree_t *tree, size_t t, size_t n_features, char *why,
                      size_t why_size)
{
    const struct {
        const char *name;
        size_t n;
    } per_node[] = {
        {"right_children", tree->n_right},      {"parents", tree->n_parent},
        {"split_indices", tree->n_split_index}, {"split_conditions", tree->n_split_condition},
        {"default_left", tree->n_default_left}, {"base_weights", tree->n_base_weights},
        {"loss_changes", tree->n_loss_changes}, {"sum_hessian", tree->n_sum_hessian},
    };
    size_t n = tree->n_left, top = 0, i, k;
    size_t *stack = NULL;
    unsigned char *seen = NULL;
    int rc = -1;

    if (n == 0)
        return check_fail(why, why_size, "tree %zu has no nodes", t);
    for (i = 0; i < sizeof(per_node) / sizeof(per_node[0]); i++) {
        if (per_node[i].n != n)
            return check_fail(why, why_size,
                              "tree %zu: %s does not have one entry for each of its %zu nodes (a "
                              "damaged model file)",
                              t, per_node[i].name, n);
    }
    if (tree->split_type != NULL && tree->n_split_type != n)
        return check_fail(why, why_size,
                          "tree %zu: split_type does not have one entry for each of its %zu "
                          "nodes (a damaged model file)",
                          t, n);
    if ((size_t)tree->num_nodes != n)
        return check_fail(why, why_size,
                          "tree %zu: tree_param.num_nodes is %ld but it has %zu nodes (a "
                          "damaged model file)",
                          t, tree->num_nodes, n);
    for (i = 1; i < n; i++) {
        if (tree->parent[i] < 0 || (uint64_t)tree->parent[i] >= n)
            return check_fail(why, why_size,
                              "tree %zu, node %zu: parent %lld is not a node of its %zu (a "
                              "damaged model file)",
                              t, i, (long long)tree->parent[i], n);
    }

    stack = malloc(n * sizeof(*stack));
    seen = calloc(n, 1);
    if (stack == NULL || seen == NULL) {
        check_fail(why, why_size, "out of memory checking the trees");
        goto out;
    }
    stack[top++] = 0;
    seen[0] = 1;
    while (top > 0) {
        size_t node = stack[--top];
        int64_t l = tree->left[node], r = tree->right[node], f;

        if (l == -1 && r == -1)
            continue; /* a leaf */
        if (l < 1 || r < 1 || (uint64_t)l >= n || (uint64_t)r >= n || l == r || seen[l] ||
            seen[r]) {
            check_fail(why, why_size,
                       "tree %zu, node %zu: children %lld and %lld are not two other nodes of "
                       "its %zu (a damaged model file)",
                       t, node, (long long)l, (long long)r, n);
            goto out;
        }
        f = tree->split_index[node];
        if (f < 0 || (uint64_t)f >= n_features) {
            check_fail(why, why_size,
                       "tree %zu, node %zu: splits on feature %lld of a model that reads %zu (a "
                       "damaged model file)",
                       t, node, (long long)f, n_features);
            goto out;
        }
        seen[l] = seen[r] = 1;
        stack[top++] = (size_t)l; /* each node is pushed once: n entries suffice */
        stack[top++] = (size_t)r;
    }

    /* Categorical splits: node k's categories are categories[segment, segment + size). */
    if (tree->n_cat_segments != tree->n_cat_nodes || tree->n_cat_sizes != tree->n_cat_nodes) {
        check_fail(why, why_size,
                   "tree %zu: its categorical splits are not described consistently (a damaged "
                   "model file)",
                   t);
        goto out;
    }
    for (k = 0; k < tree->n_cat_nodes; k++) {
        int64_t node = tree->cat_nodes[k], seg = tree->cat_segments[k], size = tree->cat_sizes[k];

        if (node < 0 || (uint64_t)node >= n || seg < 0 || size < 1 ||
            (uint64_t)seg > tree->n_categories || (uint64_t)size > tree->n_categories - seg) {
            check_fail(why, why_size,
                       "tree %zu: categorical split %zu lies outside the tree (a damaged model "
                       "file)",
                       t, k);
            goto out;
        }
        /* XGBoost matches the list to the nodes of split type 1 in order. */
        if ((k > 0 && node <= tree->cat_nodes[k - 1]) || tree->split_type == NULL ||
            tree->split_type[node] != 1) {
            check_fail(why, why_size,
                       "tree %zu: its categorical splits are not described consistently (a "
                       "damaged model file)",
                       t);
            goto out;
        }
        for (i = (size_t)seg; i < (size_t)(seg + size); i++) {
            if (tree->categories[i] < 0 || tree->categories[i] >= XGB_CATEGORY_LIMIT) {
                check_fail(why, why_size,
                           "tree %zu, node %lld: category %lld is not one XGBoost matches (0 to "
                           "%d) (a damaged model file)",
                           t, (long long)node, (long long)tree->categories[i],
                           XGB_CATEGORY_LIMIT - 1);
                goto out;
            }
        }
    }
    for (i = 0, k = 0; tree->split_type != NULL && i < n; i++) {
        if (tree->split_type[i] > 1) {
            check_fail(why, why_size,
                       "tree %zu, node %zu: split type %u is neither 0 (numerical) nor 1 "
                       "(categorical) (a damaged model file)",
                       t, i, tree->split_type[i]);
            goto out;
        }
        if (tree->split_type[i] == 1 &&
            (k >= tree->n_cat_nodes || tree->cat_nodes[k++] != (int64_t)i)) {
            check_fail(why, why_size,
                       "tree %zu: its categorical splits are not described consistently (a "
                       "damaged model file)",
                       t);
            goto out;
        }
    }
    rc = 0;
out:
    free(stack);
    free(seen);
    return rc;
}

int xgb_model_check(const xgb_model_t *m, char *why, size_t why_size)
{
    size_t groups = m->num_class > 1 ? (size_t)m->num_class : 1, t;
    unsigned char *ids;

    if (m->num_feature == 0)
        return check_fail(why, why_size, "the model reads no features");
    if (m->n_feature_names != 0 && m->n_feature_names != (size_t)m->num_feature)
        return check_fail(why, why_size, "%zu feature names for %ld features", m->n_feature_names,
                          m->num_feature);
    if (m->size_leaf_vector != 0)
        return check_fail(why, why_size,
                          "size_leaf_vector is %ld: trees with vector leaves are not supported",
                          m->size_leaf_vector);
    if (m->num_class > 1 && strncmp(m->objective, "multi:", 6) != 0)
        return check_fail(why, why_size, "%ld classes with objective %s, which predicts one value",
                          m->num_class, m->objective);
    if (strncmp(m->objective, "multi:", 6) == 0 && m->objective_num_class >= 0 &&
        m->objective_num_class != (m->num_class > 0 ? m->num_class : 1))
        return check_fail(why, why_size,
                          "the objective has %ld classes but the model %ld (a damaged model file)",
                          m->objective_num_class, m->num_class);
    if (strncmp(m->objective, "multi:", 6) == 0 && m->objective_num_class < 0)
        return check_fail(why, why_size,
                          "learner.objective.softmax_multiclass_param.num_class is missing (a "
                          "damaged model file)");
    if ((size_t)m->num_trees != m->n_trees)
        return check_fail(why, why_size,
                          "gbtree_model_param.num_trees is %ld but the model holds %zu trees (a "
                          "damaged model file)",
                          m->num_trees, m->n_trees);
    if (m->n_tree_info != m->n_trees)
        return check_fail(why, why_size,
                          "tree_info has %zu entries for %zu trees (a damaged model file)",
                          m->n_tree_info, m->n_trees);
    if (strcmp(m->booster, "dart") == 0 && m->n_trees == 0)
        return check_fail(why, why_size,
                          "a dart booster without trees, with which XGBoost 1.7 predicts nothing");
    if (strcmp(m->booster, "dart") == 0 && m->n_weight_drop != m->n_trees)
        return check_fail(why, why_size,
                          "weight_drop has %zu weights for %zu trees (a damaged model file)",
                          m->n_weight_drop, m->n_trees);
    ids = calloc(m->n_trees + 1, 1);
    if (ids == NULL)
        return check_fail(why, why_size, "out of memory checking the trees");
    for (t = 0; t < m->n_trees; t++) {
        int64_t id = m->trees[t].id;

        if (id < 0 || (uint64_t)id >= m->n_trees || ids[id]) {
            free(ids);
            return check_fail(why, why_size,
                              "tree %zu: id %lld is not one of the model's %zu trees, or is "
                              "another tree's (a damaged model file)",
                              t, (long long)id, m->n_trees);
        }
        ids[id] = 1;
        if (m->tree_info[t] < 0 || (uint64_t)m->tree_info[t] >= groups) {
            free(ids);
            return check_fail(why, why_size,
                              "tree %zu: output group %lld of a model with %zu (a damaged model "
                              "file)",
                              t, (long long)m->tree_info[t], groups);
        }
        if (check_tree(&m->trees[t], t, (size_t)m->num_feature, why, why_size) != 0) {
            free(ids);
            return -1;
        }
    }
    free(ids);
    return 0;
}
