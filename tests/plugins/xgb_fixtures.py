"""xgb_fixtures.py: trains the tiny XGBoost models test_xgboost.c checks the xgboost plugin
against, and writes XGBoost's own predictions for the test rows.

Usage: /usr/bin/python3 xgb_fixtures.py OUTDIR

Writes OUTDIR/<model>.json and OUTDIR/<model>.ubj for every model below and
OUTDIR/fixtures.json:
  {"xgboost": "1.7.4", "rows": [[x, ...], ...],          # null: missing (NaN)
   "models": [{"name": "reg", "objective": "reg:squarederror", "num_class": 0,
               "features": ["temp", ...] | null,          # null: the model has no names
               "predictions": [[p, ...], ...]}, ...]}      # XGBoost's, one list per row
and models the plugin must refuse: OUTDIR/gblinear.json (a linear booster) and
OUTDIR/multitarget.json (two targets).

The models cover every objective of XGBoost 1.7, gbtree and dart, numerical and categorical
(one-hot and partition) splits with missing values sent both ways, base_score set and
estimated, deep lossguide trees, random forests (several trees per round), and one larger
model ("large": 100 trees of depth 6) for the memory check.
Exits 3 with a message on stderr when python3-xgboost is not installed.
"""
import json
import os
import sys

try:
    import numpy as np
    import xgboost as xgb
except ImportError as e:
    sys.stderr.write("xgb_fixtures.py: %s: install python3-xgboost (scripts/install-deps)\n" % e)
    sys.exit(3)

N_FEATURES = 5
NAMES = ["temp", "speed", "pression", "humidité", "速度"]


def dataset(seed, rows, nan_rate):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(rows, N_FEATURES))
    x[:, 3] = rng.randint(0, 6, size=rows)  # small integers: the categorical model's codes
    x[rng.random_sample(size=x.shape) < nan_rate] = np.nan
    return x


def targets(x):
    z = np.nan_to_num(x)
    return {
        "reg": 2 * z[:, 0] - z[:, 1] + 0.5 * z[:, 2] * z[:, 4],
        "binary": (z[:, 0] + z[:, 1] - 0.3 * z[:, 3] > 0).astype(float),
        "multi": np.digitize(z[:, 0] + 0.5 * z[:, 2], [-0.5, 0.5]).astype(float),
        "count": np.round(np.exp(0.5 * z[:, 0])),
        "cat": z[:, 0] + 3.0 * (z[:, 3] == 2) - 2.0 * (z[:, 3] == 5),
        "unit": 1 / (1 + np.exp(-(z[:, 0] - z[:, 1]))),
        "positive": np.exp(0.3 * z[:, 0] + 0.2 * z[:, 2]),
        "relevance": np.digitize(z[:, 0] + z[:, 2], [-1, 0, 1]).astype(float),
        # survival:cox: a time, negative when censored
        "cox": np.exp(0.5 * z[:, 0]) * np.where(z[:, 1] > 0.5, -1, 1),
        "catmulti": np.digitize(z[:, 0] + (z[:, 3] == 1) - (z[:, 3] == 4), [-0.5, 0.5]).astype(float),
    }


# name, objective, target, extra params, feature names?, categorical?
MODELS = [
    ("reg", "reg:squarederror", "reg", {}, True, False),
    ("binary", "binary:logistic", "binary", {}, True, False),
    ("softprob", "multi:softprob", "multi", {"num_class": 3}, True, False),
    ("softmax", "multi:softmax", "multi", {"num_class": 3}, True, False),
    ("noname", "reg:squarederror", "reg", {}, False, False),
    ("poisson", "count:poisson", "count", {}, True, False),
    ("logitraw", "binary:logitraw", "binary", {}, True, False),
    ("dart", "reg:squarederror", "reg", {"booster": "dart", "rate_drop": 0.3}, True, False),
    ("categorical", "reg:squarederror", "cat", {"tree_method": "hist"}, True, True),
    # every other objective
    ("logistic", "reg:logistic", "unit", {"base_score": 0.3}, True, False),
    ("squaredlog", "reg:squaredlogerror", "positive", {}, True, False),
    ("pseudohuber", "reg:pseudohubererror", "reg", {}, True, False),
    ("absolute", "reg:absoluteerror", "reg", {}, True, False),
    ("gamma", "reg:gamma", "positive", {}, True, False),
    ("tweedie", "reg:tweedie", "count", {"tweedie_variance_power": 1.4}, True, False),
    ("cox", "survival:cox", "cox", {}, True, False),
    ("aft", "survival:aft", "positive",
     {"aft_loss_distribution": "normal", "aft_loss_distribution_scale": 1.2}, True, False),
    ("hinge", "binary:hinge", "binary", {}, True, False),
    ("pairwise", "rank:pairwise", "relevance", {}, True, False),
    ("ndcg", "rank:ndcg", "relevance", {}, True, False),
    ("map", "rank:map", "binary", {}, True, False),
    # boosters and trees
    ("dart_softprob", "multi:softprob", "multi",
     {"num_class": 3, "booster": "dart", "rate_drop": 0.2, "one_drop": 1}, True, False),
    ("dart_binary", "binary:logistic", "binary",
     {"booster": "dart", "rate_drop": 0.5, "normalize_type": "forest"}, True, False),
    ("onehot", "reg:squarederror", "cat", {"tree_method": "hist", "max_cat_to_onehot": 8}, True,
     True),
    ("catmulti", "multi:softprob", "catmulti",
     {"num_class": 3, "tree_method": "approx", "max_cat_to_onehot": 1}, True, True),
    ("deep", "reg:squarederror", "reg",
     {"tree_method": "hist", "grow_policy": "lossguide", "max_depth": 0, "max_leaves": 40,
      "min_child_weight": 0.1}, True, False),
    ("catdeep", "reg:squarederror", "cat",
     {"tree_method": "hist", "grow_policy": "lossguide", "max_depth": 0, "max_leaves": 40,
      "min_child_weight": 0.1}, True, True),
    ("forest", "binary:logistic", "binary",
     {"num_parallel_tree": 3, "subsample": 0.8, "colsample_bynode": 0.6, "eta": 1.0}, True,
     False),
    ("base", "reg:squarederror", "reg", {"base_score": 10.5}, True, False),
    ("large", "reg:squarederror", "reg", {"max_depth": 6}, True, False),
]
# Rounds of boosting, and training rows, where a model needs more than the default.
ROUNDS = {"large": 100}
TRAIN_ROWS = {"large": 5000, "deep": 2000, "catdeep": 2000}


def main():
    out = sys.argv[1]
    train_sets = {}
    # The test rows: missing values, a row with none, huge values that become ±inf as the
    # 32-bit floats XGBoost reads, and values beyond the training range.
    rows = dataset(2, 1000, 0.15)
    rows[0, :] = np.nan
    rows[1, :] = [1e300, -1e300, 3.4e38, 2, -1e39]
    rows[2, :] = [50, -50, 1e-300, 5, 0]
    doc = {"xgboost": xgb.__version__, "rows": [], "models": []}
    for r in rows:
        doc["rows"].append([None if np.isnan(v) else float(v) for v in r])

    for name, objective, target, extra, named, categorical in MODELS:
        n_train = TRAIN_ROWS.get(name, 300)
        if n_train not in train_sets:
            train_sets[n_train] = dataset(1, n_train, 0.1)
        train = train_sets[n_train]
        y = targets(train)
        params = {"objective": objective, "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}
        params.update(extra)
        dtrain = xgb.DMatrix(train, label=y[target], missing=np.nan,
                             feature_names=NAMES if named else None,
                             feature_types=["q", "q", "q", "c", "q"] if categorical else None,
                             enable_categorical=categorical)
        if objective.startswith("rank:"):
            dtrain.set_group([10] * (n_train // 10))
        if objective == "survival:aft":
            # intervals: exact times, right-censored ones (upper +inf) and intervals
            lower = y[target].copy()
            upper = y[target].copy()
            upper[::3] = np.inf
            upper[1::3] = lower[1::3] * 1.5
            dtrain.set_float_info("label_lower_bound", lower)
            dtrain.set_float_info("label_upper_bound", upper)
        booster = xgb.train(params, dtrain, num_boost_round=ROUNDS.get(name, 8))
        predictions = None
        for ext in ("json", "ubj"):
            path = os.path.join(out, "%s.%s" % (name, ext))
            booster.save_model(path)
            # What the plugin sees: the model read back from the file.
            loaded = xgb.Booster(model_file=path)
            p = loaded.inplace_predict(rows, missing=np.nan)
            if predictions is None:
                predictions = p
            elif not np.array_equal(p, predictions):
                raise SystemExit("xgb_fixtures.py: %s.ubj predicts otherwise than %s.json"
                                 % (name, name))
        # Cross-check on the rows a DMatrix accepts (it refuses ±inf).
        with np.errstate(over="ignore"):
            finite = ~np.isinf(rows.astype(np.float32)).any(axis=1)
        d = xgb.DMatrix(rows[finite], missing=np.nan, feature_names=NAMES if named else None,
                        feature_types=["q", "q", "q", "c", "q"] if categorical else None,
                        enable_categorical=categorical)
        if not np.allclose(loaded.predict(d), predictions[finite], rtol=0, atol=1e-6):
            raise SystemExit("xgb_fixtures.py: %s: inplace_predict and predict disagree" % name)
        predictions = predictions.reshape(len(rows), -1)
        doc["models"].append({
            "name": name,
            "objective": objective,
            "num_class": extra.get("num_class", 0),
            "features": NAMES if named else None,
            "predictions": [[float(v) for v in r] for r in predictions],
        })

    train = train_sets[300]
    y = targets(train)
    z = np.nan_to_num(train)
    dtrain = xgb.DMatrix(train, label=y["reg"], missing=np.nan)
    xgb.train({"booster": "gblinear", "nthread": 1}, dtrain, 2).save_model(
        os.path.join(out, "gblinear.json"))
    dtrain = xgb.DMatrix(train, label=np.stack([z[:, 0], z[:, 1]], axis=1), missing=np.nan)
    xgb.train({"tree_method": "hist", "nthread": 1}, dtrain, 2).save_model(
        os.path.join(out, "multitarget.json"))

    with open(os.path.join(out, "fixtures.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, allow_nan=False)


main()
