/* xgb_internal.h: private to the xgboost plugin (not installed): the model as its file holds
 * it (xgb_model.c, read by xgb_reader.c), the check of its trees, and the compiled forest the
 * native engine evaluates (xgb_forest.c). */
#ifndef XGB_INTERNAL_H
#define XGB_INTERNAL_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Reading JSON and UBJSON (xgb_reader.c) ------------------------------------------------ *
 *
 * A pull reader over one document in memory, in either encoding, with the quirks of XGBoost
 * 1.7's own readers where they decide what a model means (see xgb_reader.c). The caller walks
 * the document: each call reads the next value, or enters or steps through a container. After
 * a failure every call fails, and xgb_reader_error() says what went wrong and where. */

#define XGB_READER_DEPTH 64 /* nesting deeper than this is refused */

typedef enum xgb_value {
    XGB_VALUE_NONE = 0, /* the reader failed */
    XGB_VALUE_OBJECT,
    XGB_VALUE_ARRAY,
    XGB_VALUE_STRING,
    XGB_VALUE_INTEGER, /* JSON: digits without fraction or exponent; UBJSON: i U I l L C */
    XGB_VALUE_FLOAT,   /* JSON: a fraction or an exponent, NaN, Infinity; UBJSON: d */
    XGB_VALUE_BOOL,
    XGB_VALUE_NULL,
} xgb_value_t;

typedef struct xgb_reader {
    const unsigned char *start, *p, *end;
    int ubj;
    int depth;
    struct {
        int64_t left; /* UBJSON: elements left in a counted array, -1 when not counted */
        char type;    /* UBJSON: the element type of a typed array, or 0 */
        int first;    /* JSON: no element or member read yet */
    } level[XGB_READER_DEPTH + 1];
    locale_t c_locale; /* JSON: for strtof_l */
    int syntax;        /* the failure is one of the encoding, not of the model */
    char *scratch;     /* a JSON key or string with escapes, decoded; a JSON float's text */
    size_t scratch_size;
    char error[256];
} xgb_reader_t;

void xgb_reader_init(xgb_reader_t *r, const void *data, size_t len, int ubj);
void xgb_reader_free(xgb_reader_t *r);
/* The kind of the next value (NONE after a failure or at the end of the input). */
xgb_value_t xgb_reader_peek(xgb_reader_t *r);
/* Enters an object; then xgb_reader_key() until it returns 0. */
int xgb_reader_object(xgb_reader_t *r);
/* 1: *@key (@len bytes, valid until the next call) names the member whose value comes next;
 * 0: the object ended (and is left); -1: failed. */
int xgb_reader_key(xgb_reader_t *r, const char **key, size_t *len);
/* Enters an array; then xgb_reader_more() before each element until it returns 0. *@count
 * is the number of elements when the encoding says it (a UBJSON counted array), else -1. */
int xgb_reader_array(xgb_reader_t *r, int64_t *count);
int xgb_reader_more(xgb_reader_t *r);
int xgb_reader_integer(xgb_reader_t *r, int64_t *value);
int xgb_reader_float(xgb_reader_t *r, float *value);
/* A boolean, or an integer (true when it is 1), as XGBoost reads default_left. */
int xgb_reader_flag(xgb_reader_t *r, int *value);
/* A string, copied into *@out (malloc'ed, NUL-terminated; it may hold NUL bytes: @len). */
int xgb_reader_string(xgb_reader_t *r, char **out, size_t *len);
/* Skips the next value, containers included. */
int xgb_reader_skip(xgb_reader_t *r);
/* Checks that nothing but white space follows the document. */
int xgb_reader_end(xgb_reader_t *r);
/* Fails the reader with a message of the caller's (first failure wins). */
int xgb_reader_fail(xgb_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of the first failure, or NULL. */
const char *xgb_reader_error(const xgb_reader_t *r);
/* The bytes read so far. */
size_t xgb_reader_offset(const xgb_reader_t *r);

/* ---- The model (xgb_model.c) --------------------------------------------------------------- */

/* One tree, as its arrays hold it: one entry per node in each (n_left of them, once
 * xgb_model_check has passed). */
typedef struct xgb_tree {
    int64_t id;
    long num_nodes; /* tree_param.num_nodes, -1 when absent */
    int64_t *left, *right, *parent, *split_index;
    float *split_condition; /* a leaf's value at a leaf */
    uint8_t *default_left;
    uint8_t *split_type; /* NULL when the tree has none (no categorical split) */
    size_t n_split_type;
    /* Categorical splits: node cat_nodes[k] sends right the categories
     * categories[cat_segments[k], cat_segments[k] + cat_sizes[k]). */
    size_t n_cat_nodes, n_cat_segments, n_cat_sizes, n_categories;
    int64_t *cat_nodes, *cat_segments, *cat_sizes, *categories;
    /* The per-node arrays' lengths; base_weights, loss_changes and sum_hessian are only
     * counted: XGBoost requires them, predictions do not read them. */
    size_t n_left, n_right, n_parent, n_split_index, n_split_condition, n_default_left;
    size_t n_base_weights, n_loss_changes, n_sum_hessian;
} xgb_tree_t;

typedef struct xgb_model {
    char objective[64];
    char booster[32];         /* gbtree or dart once checked */
    long num_feature;         /* learner_model_param */
    long num_class;           /* 0 unless multi-class */
    long num_target;          /* 1 unless multi-target */
    long objective_num_class; /* softmax_multiclass_param.num_class, -1 when absent */
    float base_score;         /* as saved: before the objective's link function */
    char **feature_names;     /* NULL when the model has none */
    size_t n_feature_names;
    xgb_tree_t *trees; /* in file order; id says their order in the model */
    size_t n_trees;
    long num_trees; /* gbtree_model_param.num_trees */
    long size_leaf_vector;
    int64_t *tree_info; /* the output group of each tree */
    size_t n_tree_info;
    float *weight_drop; /* dart: each tree's weight */
    size_t n_weight_drop;
} xgb_model_t;

/* Reads a model saved by XGBoost's save_model from @data (@len bytes of JSON, or UBJSON when
 * @ubj) into *@m, without checking its trees (xgb_model_check). On failure writes why to
 * @why and leaves nothing allocated. */
int xgb_model_read(const void *data, size_t len, int ubj, xgb_model_t *m, char *why,
                   size_t why_size);
/* XGBoost does not check a model's trees: it walks them unchecked when it predicts, and
 * reads categories and parents unchecked when it loads. Checks that every tree is a tree
 * whose walk from the root ends at a leaf, splits on features of the row, and that the
 * model's tables (tree ids, output groups, dart weights) fit its trees: what both engines
 * rely on. Returns 0, or -1 with why. */
int xgb_model_check(const xgb_model_t *m, char *why, size_t why_size);
void xgb_model_free(xgb_model_t *m);

/* What an objective does to the sum of the trees (XGBoost's ProbToMargin and PredTransform). */
typedef enum xgb_link {
    XGB_LINK_IDENTITY, /* the margin is the prediction */
    XGB_LINK_LOGIT,    /* base_score through logit, the margin through the sigmoid */
    XGB_LINK_LOG,      /* base_score through log, the margin through exp (expf) */
    XGB_LINK_LOG_AFT,  /* the same, but exp in double (survival:aft's unqualified exp) */
    XGB_LINK_HINGE,    /* 1 when the margin is positive, else 0 */
    XGB_LINK_SOFTMAX,  /* the class of the largest margin */
    XGB_LINK_SOFTPROB, /* the softmax of the margins */
} xgb_link_t;

/* The link of @objective; -1 when the native engine does not know it. */
int xgb_objective_link(const char *objective);
/* The objectives xgb_objective_link() knows, for messages. */
extern const char xgb_objectives_known[];

/* ---- The compiled forest (xgb_forest.c) ------------------------------------------------------ */

typedef struct xgb_forest xgb_forest_t;

typedef struct xgb_forest_stats {
    size_t trees, complete, sparse, general; /* trees, and how many of each layout */
    size_t nodes; /* nodes of the model's trees reached from their roots */
    size_t bytes; /* memory the forest holds, scratch included */
    unsigned max_depth;
} xgb_forest_stats_t;

/* Compiles a model that passed xgb_model_check() for evaluation. Returns NULL with why (out of
 * memory, an objective the engine does not know, a base_score its link cannot take). */
xgb_forest_t *xgb_forest_compile(const xgb_model_t *m, char *why, size_t why_size);
/* Values predicted per row: the classes of multi:softprob, else 1. */
size_t xgb_forest_per_row(const xgb_forest_t *f);
void xgb_forest_stats(const xgb_forest_t *f, xgb_forest_stats_t *stats);
/* Predicts @rows rows of @x (rows × the model's features, NaN for missing) into @out (rows ×
 * per_row), exactly as XGBoost 1.7's in-place prediction does: the same 32-bit floats, added
 * in the same order. Uses the forest's scratch: one call at a time per forest. */
void xgb_forest_predict(xgb_forest_t *f, const double *x, size_t rows, float *out);
void xgb_forest_free(xgb_forest_t *f);

#endif
