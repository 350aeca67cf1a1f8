//===- MlaSvdInit.h - MLA's latent projections from GPT-2's keys and values -*- C++ -*-===//
//
// `rarun import hf --mla-init svd`: instead of random latents, MLA's W_kd,
// W_ql, W_vd and W_vu of a layer are the rank-R truncated SVD of the
// pretrained key and value projections, so that the imported MLA attends as
// closely to GPT-2 as R allows (exactly, at R = d_model). The math is in
// docs/huggingface.md.
//
//===----------------------------------------------------------------------===//
#ifndef RARUN_MLASVDINIT_H
#define RARUN_MLASVDINIT_H

#include <cstdint>
#include <string>
#include <vector>

namespace rarun {

/// One layer's MLA projections, row-major: wKd and wVd [D, R], wQl [H, hd, R]
/// (the stacked [D, R] in head order), wVu [R, D].
struct MlaLatents {
  std::vector<float> wKd, wQl, wVd, wVu;
  double keyEnergy = 0, valueEnergy = 0; // the fraction of ||W||_F^2 the rank R keeps
};

/// From c_attn's key and value blocks `wK`, `wV` ([D, D] row-major, [in, out]).
/// Returns "" or the LAPACK error.
std::string mlaLatentsFromSvd(const std::vector<float> &wK, const std::vector<float> &wV,
                              int64_t dModel, int64_t nHead, int64_t latent, MlaLatents &out);

} // namespace rarun

#endif // RARUN_MLASVDINIT_H
