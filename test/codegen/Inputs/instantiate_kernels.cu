// Instantiates every CUDA kernel family so that nvcc compiles all of them.
#include "ra_cuda_kernels.cuh"

using namespace ra_cuda;
using ra_math::Binary;
using ra_math::Unary;

template void ra_cuda::binary<Binary::Add>(const float *, const float *, float *, i64);
template void ra_cuda::binary<Binary::Sub>(const float *, const float *, float *, i64);
template void ra_cuda::binary<Binary::Mul>(const float *, const float *, float *, i64);
template void ra_cuda::binary<Binary::Div>(const float *, const float *, float *, i64);
template void ra_cuda::binary<Binary::Max>(const float *, const float *, float *, i64);
template void ra_cuda::binary<Binary::Ge>(const float *, const float *, float *, i64);
template void ra_cuda::binary<Binary::GeluGrad>(const float *, const float *, float *, i64);
template void ra_cuda::unary<Unary::Neg>(const float *, float *, i64);
template void ra_cuda::unary<Unary::Exp>(const float *, float *, i64);
template void ra_cuda::unary<Unary::Log>(const float *, float *, i64);
template void ra_cuda::unary<Unary::Tanh>(const float *, float *, i64);
template void ra_cuda::unary<Unary::Sigmoid>(const float *, float *, i64);
template void ra_cuda::unary<Unary::Sqrt>(const float *, float *, i64);
template void ra_cuda::unary<Unary::Rsqrt>(const float *, float *, i64);
template void ra_cuda::unary<Unary::Gelu>(const float *, float *, i64);
template void ra_cuda::gather<float>(const float *, float *, int, const i64 *, const i64 *);
template void ra_cuda::gather<int32_t>(const int32_t *, int32_t *, int, const i64 *, const i64 *);
template void ra_cuda::slice<float>(const float *, float *, i64, i64, i64, i64, i64);
template void ra_cuda::concatPart<float>(const float *, float *, i64, i64, i64, i64, i64);
template void ra_cuda::reduce<Reduce::Sum>(const float *, float *, i64, i64, i64, bool);
template void ra_cuda::reduce<Reduce::Mean>(const float *, float *, i64, i64, i64, bool);
template void ra_cuda::reduce<Reduce::Max>(const float *, float *, i64, i64, i64, bool);

void instantiateTheRest(float *p, const float *c) {
  fill(p, 0.f, 1);
  iota(p, 1, 1, 1);
  causalMean(c, p, 1, 1, 1, false);
  softmax(c, p, 1, 1);
  layerNorm(c, c, c, p, 1, 1, 1e-5f);
  layerNormGrad(c, c, c, p, p, p, 1, 1, 1e-5f, p);
  const int32_t *ids = nullptr;
  embedding(c, ids, p, 1, 1);
  embeddingGrad(ids, c, p, 1, 1, 1);
  crossEntropy(c, ids, p, 1, 1, p);
  crossEntropyGrad(c, ids, c, p, 1, 1);
  AttentionShape s{1, 1, 1, 1, 1, 1, true, true, 1.f, true, true, 4};
  attention(s, c, c, c, c, p);
  attentionGrad(s, c, c, c, c, c, p, p, p, p, p);
  s.bf16 = true; // --precision bf16: every tensor-core form
  flashAttention(s, c, c, c, c, p, p, c, p);
  flashAttentionGrad(s, c, c, c, c, c, c, c, p, p, p, p, p);
  headMeanAttention(s, c, c, c, c, c, p, p);
  headMeanAttentionGrad(s, c, c, c, c, c, c, p, p, p, p, p);
  const i64 off[] = {0};
  gemm(c, c, p, 1, off, off, 1, 1, 1, false, true);
  gemmBf16(c, c, p, 1, off, off, 1, 1, 1, false, true, 1, 1, p);    // --precision bf16
  gemmBias(c, c, c, c, p, 1, 1, 1, false, true, true, 1, 1, p);     // foldGemmEpilogues
  gemmBiasGelu(c, c, c, p, p, 1, 1, 1, false, true, true, 1, 1, p); // and the MLP's GELU
  gemmBiasGrad(c, c, p, p, 1, 1, 1, true, false, true, 1, 1, p);    // the backward's BGRADA
  gemmGeluGrad(c, c, c, p, 1, 1, 1, false, true, true, 1, 1, p);    // and DGELU
}
