/* xgb_forest.c: the native engine: a checked model compiled into a flat forest, and its
 * evaluation over a batch of rows exactly as XGBoost 1.7 predicts in place
 * (src/predictor/cpu_predictor.cc, src/gbm/gbtree.cc, the objectives' PredTransform).
 *
 * What XGBoost does, and this does the same way, in 32-bit floats:
 *   - Each row's value starts at base_score through the objective's link (ProbToMargin) and
 *     adds the leaf of every tree of its output group, tree after tree in the model's order
 *     (the trees' ids). A dart tree adds ((base + leaf) - base) × weight, as XGBoost's
 *     in-place dart prediction does; that is a constant of each leaf, computed here once.
 *   - At a split, a missing value (NaN) takes the node's default child; a numerical split
 *     sends a value left when it is less than the condition; a categorical split sends it
 *     right when its integer part is one of the node's categories, and left otherwise (also
 *     for a negative value and one at or beyond 2^24).
 *   - The objective's transform, with the same libm calls in the same order.
 *
 * Layout. Rows are converted a block at a time (column after column), two columns per
 * feature the trees read: the value with missing as -inf, then with missing as +inf, plus
 * one column that is always -inf. Each holds the float's key: its bits turned so that
 * unsigned integers order as the floats do (-0 as +0). A split then never tests for
 * missing: a split whose default is left reads the first column, one whose default is right
 * the second, and goes right unless the key is below its condition's — for any value, ±inf
 * included, what XGBoost decides; a condition of NaN, which sends every value right, becomes
 * -inf. A split that is no such comparison (a categorical one, or a default-left one on -inf
 * or NaN) reads a derived column instead: its decision for the row, computed once when the
 * row is converted, +inf for right and -inf for left, against 0.
 *
 * A tree of depth D whose complete binary tree is small enough is stored complete: 2^D - 1
 * splits (column offset, condition key: 8 bytes) in heap order, then 2^D leaves. A leaf
 * above the bottom becomes splits that always go left (the -inf column against +inf) down
 * to a copy of its value. Every row then takes exactly D steps, index = 2 × index + 2 -
 * below, without a branch, and ten rows of a block walk a tree side by side. A tree whose
 * complete tree would take more than twice its nodes' bytes (deep, sparse: lossguide) is
 * stored sparse: its nodes breadth first with each split's children side by side, a child
 * index per node, and leaves that go left to themselves; every row takes D steps, index =
 * child + 1 - below, ten rows side by side again. That costs little more than walking
 * each row to its leaf while the deepest leaf is at most twice as deep as the average one
 * (plus 2); a more lopsided tree keeps both children's indices and is walked one row at a
 * time, to its leaf (the general layout). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xgb_internal.h"

#define XGB_COMPLETE_DEPTH_MAX 12 /* 4095 splits, 4096 leaves: 32 KiB */
#define XGB_SPARSE_DEPTH_MAX 40
#define XGB_BLOCK_ROWS 60     /* at most, and a multiple of XGB_GROUP */
#define XGB_BLOCK_BYTES 65536 /* the scratch of a block, unless a group's rows need more */
/* Rows that walk a tree side by side: their 10 indices and the 4 other registers of a step
 * fit x86-64's 15 (12 rows spill, and were slower). */
#define XGB_GROUP 10
#define GROUP_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)
#define XGB_FEATURES_MAX (1u << 24)

/* A split of a complete tree: its condition's key (high 32 bits) and the byte offset of its
 * column in the block (low 32 bits). A block's value is its key (high 32 bits) above 32 ones,
 * so that value < split, as 64-bit integers, is key < condition's key: the offset is never
 * all ones. */
typedef uint64_t cnode_t;
#define KEY_LOW 0xffffffffu

/* A node of a general tree. */
#define GNODE_LEAF 0x80000000u
#define GNODE_CATEGORICAL 0x40000000u
#define GNODE_DEFAULT_LEFT 0x20000000u
#define GNODE_FEATURE 0x1fffffffu
typedef struct gnode {
    uint32_t meta; /* GNODE_*, the feature's index among those read */
    union {
        float cond;    /* a numerical split's condition */
        float value;   /* a leaf's value */
        uint32_t cats; /* a categorical split's categories: offset in the pool */
    } u;
    uint32_t left, right;
} gnode_t;

/* A categorical split's categories at pool offset cats: a header word, then either a bitset
 * of n words (bit c of word c / 32: category c) or, when the largest category would make
 * that longer than the list, the n categories sorted. */
#define CATS_LIST 0x80000000u

/* A column computed from a row's value for a split of a complete tree that is not a
 * comparison with the value: a categorical split's decision, or whether the value is present
 * (a default-left split on -inf or NaN, which sends every value right and missing left). It
 * holds +inf where the split goes right and -inf where it goes left, and the split compares
 * it with 0. Equal ones are shared. */
typedef struct derived {
    uint32_t feature;      /* its index among those read */
    uint32_t categorical;  /* 1: a categorical split's decision; 0: present */
    uint32_t default_left; /* categorical: where a missing value goes */
    uint32_t cats;         /* categorical: its categories' offset in dcats */
} derived_t;

#define XGB_DERIVED_MAX 4096 /* then a tree that needs more takes the general layout */

/* How a tree is laid out. */
enum {
    LAYOUT_COMPLETE, /* 2^D - 1 splits in heap order, 2^D leaves: D steps a row */
    LAYOUT_SPARSE,   /* its nodes breadth first, siblings side by side, a child index each,
                      * leaves looping onto themselves: D steps a row */
    LAYOUT_GENERAL,  /* its nodes with both children's indices, walked to a leaf */
};

typedef struct ftree {
    uint32_t layout;
    uint32_t depth; /* D */
    uint32_t group;
    uint32_t nodes; /* sparse: how many */
    size_t offset;  /* bytes into the pool */
} ftree_t;

struct xgb_forest {
    size_t n_features; /* of a row */
    size_t n_used;     /* of those, the ones the trees read */
    uint32_t *used;
    size_t columns; /* of the block: 2 × n_used + 1 + n_derived */
    derived_t *derived;
    size_t n_derived;
    uint32_t *dcats; /* the derived columns' categories, as categories_hold() reads them */
    size_t n_dcats;
    size_t groups, per_row;
    xgb_link_t link;
    float base; /* every row's margin before the trees */
    ftree_t *trees;
    size_t n_trees;
    unsigned char *pool;
    size_t pool_size;
    size_t block; /* rows of a block: a multiple of XGB_GROUP */
    uint64_t *xk; /* columns × block, column after column: the values' keys, above KEY_LOW */
    float *acc;   /* groups × block: each row's margins */
    float *row;   /* groups: one row's margins, transformed */
    xgb_forest_stats_t stats;
};

/* A float's key: unsigned keys order as their floats do (-0 is +0; never NaN). */
static uint32_t float_key(float v)
{
    uint32_t bits;

    v += 0.0f; /* -0 + 0 is +0; any other value is itself */
    memcpy(&bits, &v, sizeof(bits));
    /* negative: all bits flipped; positive: the sign bit set */
    return bits ^ ((uint32_t)((int32_t)bits >> 31) | 0x80000000u);
}

static float key_float(uint32_t key)
{
    uint32_t bits = key & 0x80000000u ? key & 0x7fffffffu : ~key;
    float v;

    memcpy(&v, &bits, sizeof(v));
    return v;
}

size_t xgb_forest_per_row(const xgb_forest_t *f)
{
    return f->per_row;
}

void xgb_forest_stats(const xgb_forest_t *f, xgb_forest_stats_t *stats)
{
    *stats = f->stats;
}

void xgb_forest_free(xgb_forest_t *f)
{
    if (f == NULL)
        return;
    free(f->used);
    free(f->derived);
    free(f->dcats);
    free(f->trees);
    free(f->pool);
    free(f->xk);
    free(f->acc);
    free(f->row);
    free(f);
}

/* ---- Compiling ---------------------------------------------------------------------------- */

typedef struct compile {
    const xgb_model_t *m;
    xgb_forest_t *f;
    uint32_t *column; /* feature → its index among those read, or UINT32_MAX */
    size_t *stack;    /* a tree's nodes, for walks */
    uint32_t *index;  /* a general tree: node → its index in the layout */
    size_t stack_size;
    char *why;
    size_t why_size;
} compile_t;

static int is_leaf(const xgb_tree_t *t, size_t node)
{
    return t->left[node] == -1;
}

static int is_categorical(const xgb_tree_t *t, size_t node)
{
    return t->split_type != NULL && t->split_type[node] == 1;
}

/* A split that is not a comparison with the row's value in the complete layout: a
 * categorical one, or a default-left one on -inf or NaN. */
static int needs_derived(const xgb_tree_t *t, size_t node)
{
    return is_categorical(t, node) ||
           (t->default_left[node] &&
            (isnan(t->split_condition[node]) || t->split_condition[node] == -INFINITY));
}

/* The categories of categorical split @node: *@list and *@n. */
static void node_categories(const xgb_tree_t *t, size_t node, const int64_t **list, size_t *n)
{
    size_t k;

    *list = NULL;
    *n = 0;
    for (k = 0; k < t->n_cat_nodes; k++) {
        if ((size_t)t->cat_nodes[k] == node) {
            *list = t->categories + t->cat_segments[k];
            *n = (size_t)t->cat_sizes[k];
            return;
        }
    }
}

/* How a categorical split's categories are stored: a bitset when the largest category makes
 * it no longer than the list, else the list. Returns the words after the header. */
static size_t categories_layout(const int64_t *list, size_t n, int *bitset)
{
    int64_t max = 0;
    size_t i, words;

    for (i = 0; i < n; i++)
        if (list[i] > max)
            max = list[i];
    words = (size_t)max / 32 + 1;
    *bitset = words <= n + 1;
    return *bitset ? words : n;
}

/* Words a categorical split's categories take in the pool, header included. */
static size_t categories_words(const int64_t *list, size_t n)
{
    int bitset;

    return 1 + categories_layout(list, n, &bitset);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Writes categorical split @node's categories at @out (categories_words() of them). */
static void categories_write(const xgb_tree_t *t, size_t node, uint32_t *out)
{
    const int64_t *list;
    size_t n, k, words;
    int bitset;

    node_categories(t, node, &list, &n);
    words = categories_layout(list, n, &bitset);
    memset(out, 0, (1 + words) * sizeof(uint32_t));
    if (bitset) {
        out[0] = (uint32_t)words;
        for (k = 0; k < n; k++)
            out[1 + list[k] / 32] |= 1u << (list[k] % 32);
    } else {
        out[0] = CATS_LIST | (uint32_t)n;
        for (k = 0; k < n; k++)
            out[1 + k] = (uint32_t)list[k];
        qsort(out + 1, n, sizeof(uint32_t), cmp_u32);
    }
}

/* The derived column of split @node of @t: an equal one's, or a new one. Returns its index,
 * or -1 when there are XGB_DERIVED_MAX already (or no memory). */
static long derived_column(compile_t *c, const xgb_tree_t *t, size_t node)
{
    xgb_forest_t *f = c->f;
    derived_t want = {c->column[t->split_index[node]], (uint32_t)is_categorical(t, node), 0, 0};
    uint32_t *cats = NULL;
    size_t words = 0, i;

    if (want.categorical) {
        const int64_t *list;
        size_t n;
        void *grown;

        want.default_left = t->default_left[node];
        node_categories(t, node, &list, &n);
        words = categories_words(list, n);
        grown = realloc(f->dcats, (f->n_dcats + words) * sizeof(*f->dcats));
        if (grown == NULL)
            return -1;
        f->dcats = grown;
        cats = f->dcats + f->n_dcats;
        categories_write(t, node, cats);
    }
    for (i = 0; i < f->n_derived; i++) {
        const derived_t *d = &f->derived[i];

        if (d->feature != want.feature || d->categorical != want.categorical ||
            d->default_left != want.default_left)
            continue;
        if (!want.categorical || (d->cats + words <= f->n_dcats &&
                                  memcmp(f->dcats + d->cats, cats, words * sizeof(*cats)) == 0))
            return (long)i;
    }
    if (f->n_derived == XGB_DERIVED_MAX)
        return -1;
    if (f->n_derived % 64 == 0) {
        void *grown = realloc(f->derived, (f->n_derived + 64) * sizeof(*f->derived));

        if (grown == NULL)
            return -1;
        f->derived = grown;
    }
    want.cats = (uint32_t)f->n_dcats;
    f->n_dcats += words;
    f->derived[f->n_derived] = want;
    return (long)f->n_derived++;
}

/* Gives every split of @t that needs one a derived column; 0, or -1 when that failed. */
static int derived_columns(compile_t *c, const xgb_tree_t *t)
{
    size_t top = 0;

    c->stack[top++] = 0;
    while (top > 0) {
        size_t node = c->stack[--top];

        if (is_leaf(t, node))
            continue;
        if (needs_derived(t, node) && derived_column(c, t, node) < 0)
            return -1;
        c->stack[top++] = (size_t)t->left[node];
        c->stack[top++] = (size_t)t->right[node];
    }
    return 0;
}

/* What tree @t needs: its depth, its reachable nodes, the categories' words of its general
 * layout, whether it has splits that need derived columns in the complete one. Marks the
 * features it reads. */
static void tree_measure(compile_t *c, const xgb_tree_t *t, unsigned *depth, size_t *nodes,
                         size_t *leaves, size_t *leaf_depths, size_t *cat_words, int *derived)
{
    size_t top = 0;

    *depth = 0;
    *nodes = 0;
    *leaves = 0;
    *leaf_depths = 0;
    *cat_words = 0;
    *derived = 0;
    /* (node, depth) pairs: each node is pushed once (the check proved it a tree). */
    c->stack[top++] = 0;
    c->stack[top++] = 0;
    while (top > 0) {
        size_t d = c->stack[--top], node = c->stack[--top];

        (*nodes)++;
        if (d > *depth)
            *depth = (unsigned)d;
        if (is_leaf(t, node)) {
            (*leaves)++;
            *leaf_depths += d;
            continue;
        }
        c->column[t->split_index[node]] = 0; /* read: numbered later */
        if (is_categorical(t, node)) {
            const int64_t *list;
            size_t n;

            node_categories(t, node, &list, &n);
            *cat_words += categories_words(list, n);
        }
        *derived |= needs_derived(t, node);
        c->stack[top++] = (size_t)t->left[node];
        c->stack[top++] = d + 1;
        c->stack[top++] = (size_t)t->right[node];
        c->stack[top++] = d + 1;
    }
}

static size_t sparse_bytes(size_t nodes)
{
    return nodes * (sizeof(cnode_t) + sizeof(uint32_t) + sizeof(float));
}

static size_t complete_bytes(unsigned depth)
{
    return (((size_t)1 << depth) - 1) * sizeof(cnode_t) + ((size_t)1 << depth) * sizeof(float);
}

/* A leaf's value as the tree adds it. */
static float leaf_value(const compile_t *c, const xgb_tree_t *t, size_t node, float weight,
                        int dart)
{
    float v = t->split_condition[node];

    if (dart) {
        /* XGBoost's in-place dart: the tree's prediction from base_score, less base_score,
         * times the weight. */
        float s = c->f->base + v;
        v = (s - c->f->base) * weight;
    }
    return v;
}

/* The split that always goes left: the -inf column against +inf. */
static cnode_t split_left(const compile_t *c)
{
    return (uint64_t)float_key(INFINITY) << 32 |
           (uint32_t)(2 * c->f->n_used * c->f->block * sizeof(uint64_t));
}

/* Split @node of @t as the complete and sparse layouts hold it. */
static cnode_t split_word(compile_t *c, const xgb_tree_t *t, size_t node)
{
    size_t column;
    float cond;

    if (needs_derived(t, node)) {
        /* its derived column (made by derived_columns) against 0 */
        column = 2 * c->f->n_used + 1 + (size_t)derived_column(c, t, node);
        cond = 0.0f;
    } else {
        /* NaN sends every value right (x < NaN is false): so does -inf in the +inf column */
        column = 2 * c->column[t->split_index[node]] + (t->default_left[node] ? 0 : 1);
        cond = isnan(t->split_condition[node]) ? -INFINITY : t->split_condition[node];
    }
    return (uint64_t)float_key(cond) << 32 | (uint32_t)(column * c->f->block * sizeof(uint64_t));
}

/* Fills position @pos (depth @d) of complete tree @nodes/@leaves of depth @depth from @node. */
static void emit_complete(compile_t *c, const xgb_tree_t *t, size_t node, int padded, size_t pos,
                          unsigned d, unsigned depth, cnode_t *nodes, float *leaves, float weight,
                          int dart)
{
    if (d == depth) {
        leaves[pos - (((size_t)1 << depth) - 1)] = leaf_value(c, t, node, weight, dart);
        return;
    }
    if (padded || is_leaf(t, node)) {
        /* Always left; the right side is never taken but is filled alike. */
        nodes[pos] = split_left(c);
        emit_complete(c, t, node, 1, 2 * pos + 1, d + 1, depth, nodes, leaves, weight, dart);
        emit_complete(c, t, node, 1, 2 * pos + 2, d + 1, depth, nodes, leaves, weight, dart);
        return;
    }
    nodes[pos] = split_word(c, t, node);
    emit_complete(c, t, (size_t)t->left[node], 0, 2 * pos + 1, d + 1, depth, nodes, leaves, weight,
                  dart);
    emit_complete(c, t, (size_t)t->right[node], 0, 2 * pos + 2, d + 1, depth, nodes, leaves, weight,
                  dart);
}

/* Lays out sparse tree @t (@n nodes) at @nodes. */
static void emit_sparse(compile_t *c, const xgb_tree_t *t, cnode_t *nodes, size_t n, float weight,
                        int dart)
{
    uint32_t *child = (uint32_t *)(nodes + n);
    float *value = (float *)(child + n);
    size_t top = 0, next = 1, i;

    /* Breadth first, each split's children side by side: left at child[], right after it. */
    c->index[0] = 0;
    c->stack[top++] = 0;
    for (i = 0; i < top; i++) {
        size_t node = c->stack[i];
        uint32_t k = c->index[node];

        if (is_leaf(t, node)) {
            /* goes left, to itself, until the last step */
            nodes[k] = split_left(c);
            child[k] = k;
            value[k] = leaf_value(c, t, node, weight, dart);
            continue;
        }
        nodes[k] = split_word(c, t, node);
        child[k] = (uint32_t)next;
        value[k] = 0.0f;
        c->index[t->left[node]] = (uint32_t)next++;
        c->index[t->right[node]] = (uint32_t)next++;
        c->stack[top++] = (size_t)t->left[node];
        c->stack[top++] = (size_t)t->right[node];
    }
}

/* Lays out general tree @t at @out (its categories at @cats, pool offset @cats_offset). */
static void emit_general(compile_t *c, const xgb_tree_t *t, gnode_t *out, uint32_t *cats,
                         size_t cats_offset, float weight, int dart)
{
    size_t top = 0, next = 1, i;

    /* Breadth-first: node indices in the layout in the order they are reached. */
    c->index[0] = 0;
    c->stack[top++] = 0;
    for (i = 0; i < top; i++) {
        size_t node = c->stack[i];
        gnode_t *g = &out[c->index[node]];

        if (is_leaf(t, node)) {
            g->meta = GNODE_LEAF;
            g->u.value = leaf_value(c, t, node, weight, dart);
            g->left = g->right = 0;
            continue;
        }
        g->meta =
            c->column[t->split_index[node]] | (t->default_left[node] ? GNODE_DEFAULT_LEFT : 0);
        if (is_categorical(t, node)) {
            const int64_t *list;
            size_t n, words;

            node_categories(t, node, &list, &n);
            words = categories_words(list, n);
            g->meta |= GNODE_CATEGORICAL;
            g->u.cats = (uint32_t)(cats_offset / sizeof(uint32_t));
            categories_write(t, node, cats);
            cats += words;
            cats_offset += words * sizeof(uint32_t);
        } else {
            g->u.cond = t->split_condition[node];
        }
        c->index[t->left[node]] = (uint32_t)next++;
        c->index[t->right[node]] = (uint32_t)next++;
        g->left = c->index[t->left[node]];
        g->right = c->index[t->right[node]];
        c->stack[top++] = (size_t)t->left[node];
        c->stack[top++] = (size_t)t->right[node];
    }
}

static xgb_forest_t *compile_fail(compile_t *c, const char *message)
{
    snprintf(c->why, c->why_size, "%s", message);
    return NULL;
}

xgb_forest_t *xgb_forest_compile(const xgb_model_t *m, char *why, size_t why_size)
{
    compile_t c = {m, NULL, NULL, NULL, NULL, 0, why, why_size};
    xgb_forest_t *f = NULL;
    size_t *order = NULL, max_nodes = 1, i, offset, cat_offset;
    int link = xgb_objective_link(m->objective), dart = strcmp(m->booster, "dart") == 0;
    struct {
        unsigned depth;
        size_t nodes, leaves, leaf_depths, cat_words;
        int layout, derived;
    } *plan = NULL;

    if (link < 0) {
        snprintf(why, why_size, "objective %s is not one the native engine knows (%s)",
                 m->objective, xgb_objectives_known);
        return NULL;
    }
    if ((size_t)m->num_feature > XGB_FEATURES_MAX) {
        snprintf(why, why_size, "%ld features: the native engine reads at most %u", m->num_feature,
                 XGB_FEATURES_MAX);
        return NULL;
    }
    f = calloc(1, sizeof(*f));
    c.f = f;
    if (f == NULL)
        goto nomem;
    f->n_features = (size_t)m->num_feature;
    f->groups = m->num_class > 1 ? (size_t)m->num_class : 1;
    f->link = (xgb_link_t)link;
    f->per_row = f->link == XGB_LINK_SOFTPROB ? f->groups : 1;
    if (f->link != XGB_LINK_SOFTMAX && f->link != XGB_LINK_SOFTPROB && f->groups != 1) {
        compile_fail(&c, "several output groups with an objective that predicts one value");
        goto error;
    }

    /* The margin every row starts from (XGBoost's ProbToMargin, in floats). */
    f->base = m->base_score;
    if (f->link == XGB_LINK_LOGIT) {
        if (!(m->base_score > 0.0f && m->base_score < 1.0f)) {
            snprintf(why, why_size,
                     "base_score %g is not a probability between 0 and 1, which %s requires",
                     (double)m->base_score, m->objective);
            goto error;
        }
        f->base = -logf(1.0f / m->base_score - 1.0f);
    } else if (f->link == XGB_LINK_LOG || f->link == XGB_LINK_LOG_AFT) {
        f->base = logf(m->base_score);
    }

    /* The trees in the model's order: by id (the check proved the ids a permutation). */
    order = malloc((m->n_trees + 1) * sizeof(*order));
    c.column = malloc(f->n_features * sizeof(*c.column));
    plan = calloc(m->n_trees + 1, sizeof(*plan));
    if (order == NULL || c.column == NULL || plan == NULL)
        goto nomem;
    for (i = 0; i < m->n_trees; i++) {
        order[m->trees[i].id] = i;
        if (m->trees[i].n_left > max_nodes)
            max_nodes = m->trees[i].n_left;
    }
    memset(c.column, 0xff, f->n_features * sizeof(*c.column));
    c.stack = malloc(2 * max_nodes * sizeof(*c.stack));
    c.index = malloc(max_nodes * sizeof(*c.index));
    if (c.stack == NULL || c.index == NULL)
        goto nomem;

    /* Plan each tree's layout; number the features read, in the row's order. */
    for (i = 0; i < m->n_trees; i++) {
        const xgb_tree_t *t = &m->trees[order[i]];

        tree_measure(&c, t, &plan[i].depth, &plan[i].nodes, &plan[i].leaves, &plan[i].leaf_depths,
                     &plan[i].cat_words, &plan[i].derived);
        /* Complete when that takes at most twice the nodes' bytes; sparse when the deepest
         * leaf is at most twice as deep as the leaves on average, plus 2, so that walking
         * every row that deep costs little more than walking each to its leaf; else the
         * general walk. */
        if (plan[i].depth <= XGB_COMPLETE_DEPTH_MAX &&
            complete_bytes(plan[i].depth) <= 2 * plan[i].nodes * sizeof(gnode_t))
            plan[i].layout = LAYOUT_COMPLETE;
        else if (plan[i].depth <= XGB_SPARSE_DEPTH_MAX &&
                 plan[i].depth * plan[i].leaves <= 2 * (plan[i].leaf_depths + plan[i].leaves))
            plan[i].layout = LAYOUT_SPARSE;
        else
            plan[i].layout = LAYOUT_GENERAL;
        f->stats.nodes += plan[i].nodes;
        if (plan[i].depth > f->stats.max_depth)
            f->stats.max_depth = plan[i].depth;
    }
    for (i = 0; i < f->n_features; i++)
        if (c.column[i] == 0)
            f->n_used++;
    f->used = malloc((f->n_used + 1) * sizeof(*f->used));
    if (f->used == NULL)
        goto nomem;
    for (i = 0, f->n_used = 0; i < f->n_features; i++) {
        if (c.column[i] == 0) {
            f->used[f->n_used] = (uint32_t)i;
            c.column[i] = (uint32_t)f->n_used++;
        }
    }
    /* The derived columns of the complete trees' splits that need them. */
    offset = 0;
    for (i = 0; i < m->n_trees; i++) {
        if (plan[i].layout != LAYOUT_GENERAL && plan[i].derived &&
            derived_columns(&c, &m->trees[order[i]]) != 0)
            plan[i].layout = LAYOUT_GENERAL;
        if (plan[i].layout == LAYOUT_COMPLETE)
            offset += complete_bytes(plan[i].depth);
        else if (plan[i].layout == LAYOUT_SPARSE)
            offset += sparse_bytes(plan[i].nodes);
        else
            offset += plan[i].nodes * sizeof(gnode_t) + plan[i].cat_words * sizeof(uint32_t);
        offset = (offset + 7) & ~(size_t)7;
    }
    f->columns = 2 * f->n_used + 1 + f->n_derived;

    /* The block: as many rows as fit the scratch, which the complete trees' columns name by
     * their byte offsets. */
    for (f->block = XGB_BLOCK_ROWS;
         f->block > XGB_GROUP &&
         (f->columns * sizeof(uint64_t) + f->groups * sizeof(float)) * f->block > XGB_BLOCK_BYTES;
         f->block -= XGB_GROUP)
        ;
    /* zeroed: rows beyond a batch's last in its last group walk the trees on stale values */
    f->xk = calloc(f->columns * f->block, sizeof(*f->xk));
    f->acc = malloc(f->groups * f->block * sizeof(*f->acc));
    f->row = malloc(f->groups * sizeof(*f->row));
    if (f->xk == NULL || f->acc == NULL || f->row == NULL)
        goto nomem;

    /* Lay the trees out, 8-byte aligned. */
    f->pool_size = offset + 8 * m->n_trees + 8;
    f->pool = calloc(1, f->pool_size);
    f->trees = calloc(m->n_trees + 1, sizeof(*f->trees));
    if (f->pool == NULL || f->trees == NULL)
        goto nomem;
    f->n_trees = m->n_trees;
    offset = 0;
    for (i = 0; i < m->n_trees; i++) {
        const xgb_tree_t *t = &m->trees[order[i]];
        ftree_t *ft = &f->trees[i];
        float weight = dart ? m->weight_drop[t->id] : 1.0f;

        offset = (offset + 7) & ~(size_t)7;
        ft->offset = offset;
        ft->group = (uint32_t)m->tree_info[t->id];
        ft->layout = (uint32_t)plan[i].layout;
        ft->depth = plan[i].depth;
        ft->nodes = (uint32_t)plan[i].nodes;
        if (ft->layout == LAYOUT_SPARSE) {
            emit_sparse(&c, t, (cnode_t *)(f->pool + offset), plan[i].nodes, weight, dart);
            offset += sparse_bytes(plan[i].nodes);
            f->stats.sparse++;
        } else if (ft->layout == LAYOUT_COMPLETE) {
            cnode_t *nodes = (cnode_t *)(f->pool + offset);
            float *leaves = (float *)(nodes + ((size_t)1 << ft->depth) - 1);

            emit_complete(&c, t, 0, 0, 0, 0, ft->depth, nodes, leaves, weight, dart);
            offset += complete_bytes(ft->depth);
            f->stats.complete++;
        } else {
            gnode_t *nodes = (gnode_t *)(f->pool + offset);

            cat_offset = offset + plan[i].nodes * sizeof(gnode_t);
            emit_general(&c, t, nodes, (uint32_t *)(f->pool + cat_offset), cat_offset, weight,
                         dart);
            offset = cat_offset + plan[i].cat_words * sizeof(uint32_t);
            f->stats.general++;
        }
    }

    f->stats.trees = f->n_trees;
    f->stats.bytes =
        sizeof(*f) + (f->n_used + 1) * sizeof(*f->used) + f->n_derived * sizeof(*f->derived) +
        f->n_dcats * sizeof(*f->dcats) + (f->n_trees + 1) * sizeof(*f->trees) + f->pool_size +
        f->block * f->columns * sizeof(*f->xk) + (f->block * f->groups + f->groups) * sizeof(float);
    free(order);
    free(plan);
    free(c.column);
    free(c.stack);
    free(c.index);
    return f;

nomem:
    snprintf(why, why_size, "out of memory compiling the model");
error:
    free(order);
    free(plan);
    free(c.column);
    free(c.stack);
    free(c.index);
    xgb_forest_free(f);
    return NULL;
}

/* ---- Evaluating ----------------------------------------------------------------------------- */

static int categories_hold(const uint32_t *cats, float v)
{
    uint32_t header = cats[0], n = header & ~CATS_LIST, c, lo, hi;

    /* XGBoost: a negative value, or one at or beyond 2^24, is no category of the split */
    if (v < 0.0f || v >= 16777216.0f)
        return 0;
    c = (uint32_t)v;
    if (!(header & CATS_LIST))
        return c / 32 < n && (cats[1 + c / 32] >> (c % 32) & 1);
    for (lo = 0, hi = n; lo < hi;) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (cats[1 + mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && cats[1 + lo] == c;
}

/* Converts @n rows of @x into the block's columns of keys. */
static void block_fill(xgb_forest_t *f, const double *x, size_t n)
{
    const size_t block = f->block;
    const uint64_t low = (uint64_t)float_key(-INFINITY) << 32 | KEY_LOW,
                   high = (uint64_t)float_key(INFINITY) << 32 | KEY_LOW;
    size_t r, j;

    for (r = 0; r < n; r++) {
        const double *row = x + r * f->n_features;
        uint64_t *out = f->xk + r;

        for (j = 0; j < f->n_used; j++) {
            float v = (float)row[f->used[j]];
            int missing = v != v;
            uint64_t k = missing ? 0 : (uint64_t)float_key(v) << 32 | KEY_LOW;

            out[2 * j * block] = missing ? low : k;
            out[(2 * j + 1) * block] = missing ? high : k;
        }
        out[2 * f->n_used * block] = low;
        for (j = 0; j < f->n_derived; j++) {
            const derived_t *dv = &f->derived[j];
            float v = (float)row[f->used[dv->feature]];
            int missing = v != v, right;

            if (!dv->categorical)
                right = !missing;
            else if (missing)
                right = !dv->default_left;
            else
                right = categories_hold(f->dcats + dv->cats, v);
            out[(2 * f->n_used + 1 + j) * block] = right ? high : low;
        }
    }
}

/* Row k of a group down a complete tree: its index, its first step from the root's split,
 * a step (right unless its value is below the split's condition), its leaf added. */
#define INDEX(k) size_t i##k = 0;
#define FIRST(k)                                                                                   \
    {                                                                                              \
        uint64_t kv;                                                                               \
        memcpy(&kv, xg + (uint32_t)root + (k) * sizeof(uint64_t), sizeof(kv));                     \
        i##k = 2 - (kv < root);                                                                    \
    }
#define STEP(k)                                                                                    \
    {                                                                                              \
        uint64_t nd = nodes[i##k], kv;                                                             \
        memcpy(&kv, xg + (uint32_t)nd + (k) * sizeof(uint64_t), sizeof(kv));                       \
        i##k = 2 * i##k + 2 - (kv < nd);                                                           \
    }
#define ADD(k) acc[g + (k)] += leaves[i##k];

/* Adds complete tree @ft's leaf to each of @n rows' margins at @acc (the tree's group). */
static void eval_complete(const xgb_forest_t *f, const ftree_t *ft, size_t n, float *acc)
{
    const cnode_t *nodes = (const cnode_t *)(const void *)(f->pool + ft->offset);
    const unsigned depth = ft->depth;
    /* After the last step i lies in [2^D - 1, 2^(D+1) - 2]; the leaves follow the 2^D - 1
     * splits, 8 bytes each: leaf i - (2^D - 1) is float 2^D - 1 + i of the tree. */
    const float *leaves = (const float *)(const void *)nodes + (((size_t)1 << depth) - 1);
    size_t g;
    unsigned d;

    for (g = 0; g < n; g += XGB_GROUP) {
        const char *xg = (const char *)(f->xk + g);

        /* The rows of a group side by side: each row's steps depend on each other, the rows
         * do not. Every row starts at the root: its split is read once. */
        GROUP_ROWS(INDEX)
        if (depth > 0) {
            const uint64_t root = nodes[0];

            GROUP_ROWS(FIRST)
        }
        for (d = 1; d < depth; d++) {
            GROUP_ROWS(STEP)
        }
        GROUP_ROWS(ADD)
    }
}

/* Adds sparse tree @ft's leaf to each of @n rows' margins at @acc (the tree's group). */
static void eval_sparse(const xgb_forest_t *f, const ftree_t *ft, size_t n, float *acc)
{
    const cnode_t *nodes = (const cnode_t *)(const void *)(f->pool + ft->offset);
    const uint32_t *child = (const uint32_t *)(const void *)(nodes + ft->nodes);
    const float *value = (const float *)(const void *)(child + ft->nodes);
    const unsigned depth = ft->depth;
    size_t g;
    unsigned d;

    /* As in a complete tree, but each split's children are where child[] says. */
#define SSTEP(k)                                                                                   \
    {                                                                                              \
        uint64_t nd = nodes[i##k], kv;                                                             \
        memcpy(&kv, xg + (uint32_t)nd + (k) * sizeof(uint64_t), sizeof(kv));                       \
        i##k = child[i##k] + 1 - (kv < nd);                                                        \
    }
#define SADD(k) acc[g + (k)] += value[i##k];
    for (g = 0; g < n; g += XGB_GROUP) {
        const char *xg = (const char *)(f->xk + g);

        GROUP_ROWS(INDEX)
        for (d = 0; d < depth; d++) {
            GROUP_ROWS(SSTEP)
        }
        GROUP_ROWS(SADD)
    }
#undef SSTEP
#undef SADD
}

#undef INDEX
#undef FIRST
#undef STEP
#undef ADD

/* Adds general tree @ft's leaf to each of @n rows' margins at @acc (the tree's group). */
static void eval_general(const xgb_forest_t *f, const ftree_t *ft, size_t n, float *acc)
{
    const gnode_t *nodes = (const gnode_t *)(f->pool + ft->offset);
    const uint32_t *pool = (const uint32_t *)(const void *)f->pool;
    const size_t block = f->block;
    size_t r;

    for (r = 0; r < n; r++) {
        const uint64_t *x = f->xk + r;
        const gnode_t *g = nodes;

        while (!(g->meta & GNODE_LEAF)) {
            uint32_t j = g->meta & GNODE_FEATURE;
            uint32_t lo = (uint32_t)(x[2 * j * block] >> 32),
                     hi = (uint32_t)(x[(2 * j + 1) * block] >> 32);
            int right;

            if (lo != hi) /* missing: the keys of -inf and +inf */
                right = !(g->meta & GNODE_DEFAULT_LEFT);
            else if (g->meta & GNODE_CATEGORICAL)
                right = categories_hold(pool + g->u.cats, key_float(lo));
            else
                right = !(key_float(lo) < g->u.cond);
            g = nodes + (right ? g->right : g->left);
        }
        acc[r] += g->u.value;
    }
}

/* XGBoost's common::Sigmoid. */
static float sigmoid(float x)
{
    float y = 88.7f < -x ? 88.7f : -x; /* std::min(-x, 88.7f) */

    return 1.0f / (expf(y) + 1.0f + 1e-16f);
}

/* The objective's transform of row margins @acc (groups of them) into @out (per_row). */
static void transform(const xgb_forest_t *f, const float *acc, float *out)
{
    size_t g, n = f->groups, best;
    float wmax;
    double wsum;

    switch (f->link) {
    case XGB_LINK_IDENTITY:
        out[0] = acc[0];
        break;
    case XGB_LINK_LOGIT:
        out[0] = sigmoid(acc[0]);
        break;
    case XGB_LINK_LOG:
        out[0] = expf(acc[0]);
        break;
    case XGB_LINK_LOG_AFT:
        /* XGBoost's AFTObj::PredTransform calls exp on a float: the double one, rounded */
        out[0] = (float)exp((double)acc[0]);
        break;
    case XGB_LINK_HINGE:
        out[0] = acc[0] > 0.0f ? 1.0f : 0.0f;
        break;
    case XGB_LINK_SOFTMAX:
        /* The first of the largest; NaN is never larger (FindMaxIndex). */
        for (best = 0, g = 1; g < n; g++)
            if (acc[g] > acc[best])
                best = g;
        out[0] = (float)best;
        break;
    case XGB_LINK_SOFTPROB:
        /* common::Softmax: the maximum by fmaxf, the sum in double. */
        wmax = acc[0];
        for (g = 1; g < n; g++)
            wmax = fmaxf(acc[g], wmax);
        wsum = 0.0;
        for (g = 0; g < n; g++) {
            out[g] = expf(acc[g] - wmax);
            wsum += out[g];
        }
        for (g = 0; g < n; g++)
            out[g] /= (float)wsum;
        break;
    }
}

void xgb_forest_predict(xgb_forest_t *f, const double *x, size_t rows, float *out)
{
    const size_t block = f->block, groups = f->groups;
    size_t b, r, t, g, n;

    for (b = 0; b < rows; b += n) {
        n = rows - b < block ? rows - b : block;
        block_fill(f, x + b * f->n_features, n);
        for (r = 0; r < groups * block; r++)
            f->acc[r] = f->base;
        for (t = 0; t < f->n_trees; t++) {
            const ftree_t *ft = &f->trees[t];

            if (ft->layout == LAYOUT_COMPLETE)
                eval_complete(f, ft, n, f->acc + ft->group * block);
            else if (ft->layout == LAYOUT_SPARSE)
                eval_sparse(f, ft, n, f->acc + ft->group * block);
            else
                eval_general(f, ft, n, f->acc + ft->group * block);
        }
        for (r = 0; r < n; r++) {
            for (g = 0; g < groups; g++)
                f->row[g] = f->acc[g * block + r];
            transform(f, f->row, out + (b + r) * f->per_row);
        }
    }
}
