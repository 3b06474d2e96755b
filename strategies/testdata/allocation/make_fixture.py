#!/usr/bin/env python3
"""Builds sp500_returns.csv and prints the reference values pasted into
strategies/src/allocation/tests.rs (real-data cross-checks).

Source: /work/shared/data/pypi-skfolio-1.12.2/sp500_dataset.csv.gz (skfolio 1.12.2's bundled
daily adjusted closes of 20 S&P 500 stocks). We keep the daily simple returns of the last 500
days, written with 10 significant digits; every reference below is computed from the CSV as
written (read back), so Rust and Python see identical inputs.

Run:  python3 -m venv /tmp/sk && /tmp/sk/bin/pip install scikit-learn pandas numpy scipy cvxpy
      /tmp/sk/bin/python make_fixture.py
"""
import os

import numpy as np
import pandas as pd
import scipy
import sklearn
from scipy.optimize import minimize
from sklearn.covariance import ledoit_wolf

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = "/work/shared/data/pypi-skfolio-1.12.2/sp500_dataset.csv.gz"
OUT = os.path.join(HERE, "sp500_returns.csv")

prices = pd.read_csv(SRC, index_col=0)
rets = prices.pct_change().iloc[-500:]
assert rets.shape == (500, 20) and np.isfinite(rets.values).all()
rets.to_csv(OUT, float_format="%.10g", index_label="date")

X = pd.read_csv(OUT, index_col=0).values
T, n = X.shape
print(f"# numpy {np.__version__}, scipy {scipy.__version__}, sklearn {sklearn.__version__}")
print(f"# {T} x {n}, first date {rets.index[0]}, last date {rets.index[-1]}")

mu = X.mean(axis=0)
X = X.astype(float)
fl = lambda v: repr(float(v))
S = np.cov(X, rowvar=False, ddof=1)
lw, shrink = ledoit_wolf(X)
print(f"mean[0]={fl(mu[0])} mean[19]={fl(mu[19])}")
for (i, j) in [(0, 0), (0, 1), (5, 12), (19, 19)]:
    print(f"sample_cov[{i},{j}]={fl(S[i, j])}  lw[{i},{j}]={fl(lw[i, j])}")
print(f"lw_shrinkage={fl(shrink)}")

# --- CARA on (mu, S): exact reference by KKT on the support found by SLSQP ---
gamma = 10.0
f = lambda w: -(w @ mu - 0.5 * gamma * w @ S @ w)
res = minimize(f, np.full(n, 1 / n), jac=lambda w: -(mu - gamma * S @ w), method="SLSQP",
               bounds=[(0, 1)] * n, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
               options={"ftol": 1e-15, "maxiter": 1000})
supp = np.where(res.x > 1e-6)[0]
k = len(supp)
K = np.zeros((k + 1, k + 1))
K[:k, :k] = gamma * S[np.ix_(supp, supp)]
K[:k, k] = 1
K[k, :k] = 1
sol = np.linalg.solve(K, np.r_[mu[supp], 1.0])
w = np.zeros(n)
w[supp] = sol[:k]
nu = -sol[k]  # mu - gamma S w - nu 1 + s = 0 with  gamma S w + nu' 1 = mu  => nu = nu'
s = -(mu - gamma * S @ w) + (mu - gamma * S @ w)[supp].mean()
assert (w >= 0).all() and (s[np.setdiff1d(range(n), supp)] >= -1e-12).all()
print(f"cara gamma={gamma} slsqp_success={res.success} max|slsqp-exact|={abs(res.x - w).max():.2e}")
print("cara_support=", supp.tolist())
print("cara_weights=", [fl(v) for v in w[supp]])
try:
    import cvxpy as cp
    x = cp.Variable(n)
    cp.Problem(cp.Maximize(mu @ x - 0.5 * gamma * cp.quad_form(x, cp.psd_wrap(S))),
               [cp.sum(x) == 1, x >= 0]).solve(solver=cp.CLARABEL, tol_gap_abs=1e-12,
                                                 tol_gap_rel=1e-12, tol_feas=1e-12)
    print(f"cara cvxpy/clarabel max|cvxpy-exact|={abs(x.value - w).max():.2e}")
except Exception as e:  # cvxpy is optional
    print("cvxpy unavailable:", e)

# --- Risk parity on S: scipy on Spinu's objective, then Newton polish ---
b = np.full(n, 1 / n)
obj = lambda y: 0.5 * y @ S @ y - b @ np.log(y)
res = minimize(obj, 1 / np.sqrt(np.diag(S)) / n, jac=lambda y: S @ y - b / y, method="L-BFGS-B",
               bounds=[(1e-12, None)] * n, options={"ftol": 1e-15, "gtol": 1e-14, "maxiter": 10000})
y = res.x
for _ in range(20):
    g = S @ y - b / y
    y = y - np.linalg.solve(S + np.diag(b / y**2), g)
wr = y / y.sum()
rc = wr * (S @ wr) / (wr @ S @ wr)
print(f"risk_parity lbfgs_success={res.success} max|n*rc-1|={abs(n * rc - 1).max():.2e} "
      f"max|lbfgs-polished|={abs(res.x / res.x.sum() - wr).max():.2e}")
print("risk_parity_weights=", [fl(v) for v in wr])

# --- Sparse L1 on (mu, S), shorts allowed: cvxpy (Clarabel) ---
lam, rho = 0.05, 2e-5
try:
    import cvxpy as cp
    x = cp.Variable(n)
    cp.Problem(cp.Minimize(cp.quad_form(x, cp.psd_wrap(S)) - lam * mu @ x + rho * cp.norm1(x)),
               [cp.sum(x) == 1]).solve(solver=cp.CLARABEL, tol_gap_abs=1e-14,
                                       tol_gap_rel=1e-14, tol_feas=1e-14)
    ws = np.where(abs(x.value) < 1e-7, 0.0, x.value)
    # Polish: solve the KKT system on the support with the signs cvxpy found, then verify the
    # subgradient conditions (|2Sw - lam mu - nu| <= rho off the support).
    sp = np.nonzero(ws)[0]
    k = len(sp)
    K = np.zeros((k + 1, k + 1))
    K[:k, :k] = 2 * S[np.ix_(sp, sp)]
    K[:k, k] = 1
    K[k, :k] = 1
    sol = np.linalg.solve(K, np.r_[lam * mu[sp] - rho * np.sign(ws[sp]), 1.0])
    exact = np.zeros(n)
    exact[sp] = sol[:k]
    nu = -sol[k]
    r = 2 * S @ exact - lam * mu - nu
    off = np.setdiff1d(range(n), sp)
    assert (np.sign(exact[sp]) == np.sign(ws[sp])).all() and (abs(r[off]) <= rho * (1 + 1e-9)).all()
    print(f"sparse lambda={lam} rho={rho} nonzeros={k} max|cvxpy-exact|={abs(x.value - exact).max():.2e}")
    ws = exact
    print("sparse_weights=", [fl(v) for v in ws])
except Exception as e:
    print("cvxpy unavailable:", e)
