//! Viterbi decoding in log space.

use super::check_obs;
use super::model::GaussianHmm;
use crate::Result;

impl GaussianHmm {
    /// The most probable hidden state path and its joint log-probability
    /// `max_s ln p(s_1..T, r_1..T)`.
    ///
    /// Log space throughout (zero probabilities become −∞ and are never chosen when a finite
    /// alternative exists). Ties go to the lowest state index, so the path is deterministic.
    ///
    /// # Errors
    /// [`crate::Error::TooShort`] for empty `obs`, [`crate::Error::NonFinite`] naming the first
    /// bad index.
    pub fn viterbi(&self, obs: &[f64]) -> Result<(Vec<usize>, f64)> {
        check_obs(obs)?;
        let kern = self.kernel();
        let k = kern.k;
        // Transposed log transition matrix: log_at[j*k + i] = ln A[i][j], so the inner max
        // over predecessors reads contiguous memory.
        let mut log_at = vec![0.0; k * k];
        for i in 0..k {
            for j in 0..k {
                log_at[j * k + i] = kern.trans[i * k + j].ln();
            }
        }
        let mut delta = vec![0.0; k];
        let mut next = vec![0.0; k];
        let mut logb = vec![0.0; k];
        let mut back = vec![0u32; obs.len() * k];

        kern.emission_logs(obs[0], &mut logb);
        for ((d, &p), &lb) in delta.iter_mut().zip(&kern.initial).zip(&logb) {
            *d = p.ln() + lb;
        }
        for (&r, bp) in obs[1..].iter().zip(back.chunks_exact_mut(k).skip(1)) {
            kern.emission_logs(r, &mut logb);
            for (((nj, bpj), col), &lb) in next
                .iter_mut()
                .zip(bp.iter_mut())
                .zip(log_at.chunks_exact(k))
                .zip(&logb)
            {
                let mut best = f64::NEG_INFINITY;
                let mut arg = 0u32;
                for ((i, &d), &la) in (0u32..).zip(&delta).zip(col) {
                    let v = d + la;
                    if v > best {
                        best = v;
                        arg = i;
                    }
                }
                *nj = best + lb;
                *bpj = arg;
            }
            std::mem::swap(&mut delta, &mut next);
        }

        let (mut s, logp) =
            delta
                .iter()
                .enumerate()
                .fold((0usize, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                    if v > bv { (i, v) } else { (bi, bv) }
                });
        let mut path = vec![0usize; obs.len()];
        for t in (0..obs.len()).rev() {
            path[t] = s;
            if t > 0 {
                s = back[t * k + s] as usize;
            }
        }
        Ok((path, logp))
    }
}

#[cfg(test)]
mod tests {
    use crate::hmm::{GaussianHmm, StateParams};

    fn two_state() -> GaussianHmm {
        GaussianHmm::new(
            vec![
                StateParams::new("a", 0.0, 1.0),
                StateParams::new("b", 0.0, 2.0),
            ],
            vec![vec![0.9, 0.1], vec![0.2, 0.8]],
            vec![0.5, 0.5],
        )
        .unwrap()
    }

    /// Hand computation with ℓ = ½ ln 2π = 0.918939, ln N(0;0,1) = −ℓ, ln N(2;0,1) = −ℓ − 2,
    /// ln N(0;0,4) = −ℓ − ln 2, ln N(2;0,4) = −ℓ − ln 2 − ½, for r = [0, 2]:
    ///
    /// | path | ln π + ln b₁ + ln A + ln b₂                           | total     |
    /// |------|--------------------------------------------------------|-----------|
    /// | AA   | −0.693147 − 0.918939 − 0.105361 − 2.918939             | −4.636385 |
    /// | AB   | −0.693147 − 0.918939 − 2.302585 − 2.112086             | −6.026757 |
    /// | BA   | −0.693147 − 1.612086 − 1.609438 − 2.918939             | −6.833609 |
    /// | BB   | −0.693147 − 1.612086 − 0.223144 − 2.112086             | −4.640462 |
    ///
    /// AA wins by 0.004; with r = [0, 3] the A emission at 3 costs 2.5 more and BB wins.
    #[test]
    fn hand_checked_viterbi() {
        let m = two_state();
        let (path, lp) = m.viterbi(&[0.0, 2.0]).unwrap();
        assert_eq!(path, vec![0, 0]);
        let want = 0.45f64.ln() - (2.0 * std::f64::consts::PI).ln() - 2.0;
        assert!(
            (lp - want).abs() < 1e-12 && (lp + 4.636_385).abs() < 1e-6,
            "{lp} vs {want}"
        );
        let (path, _) = m.viterbi(&[0.0, 3.0]).unwrap();
        assert_eq!(path, vec![1, 1]);
    }
}
