"""xgb_model.py: trains the benchmark's XGBoost model (python3-xgboost).

Usage: /usr/bin/python3 xgb_model.py OUT.json [TREES] [DEPTH]

A regression (reg:squarederror) on the benchmark's 16 features x0..x15 (values 0.0 to
9.9), 100 trees of depth 6 by default, saved with its feature names as JSON.
"""
import sys

import numpy as np
import xgboost as xgb

out = sys.argv[1]
trees = int(sys.argv[2]) if len(sys.argv) > 2 else 100
depth = int(sys.argv[3]) if len(sys.argv) > 3 else 6
rng = np.random.RandomState(7)
x = np.round(rng.uniform(0, 10, size=(5000, 16)), 1)
y = x @ rng.uniform(-1, 1, size=16) + 2 * np.sin(x[:, 0]) * x[:, 1] + (x[:, 2] > 5) * x[:, 3]
dtrain = xgb.DMatrix(x, label=y, feature_names=["x%d" % i for i in range(16)])
booster = xgb.train({"objective": "reg:squarederror", "max_depth": depth, "tree_method": "hist", "nthread": 2},
                    dtrain, num_boost_round=trees)
booster.save_model(out)
