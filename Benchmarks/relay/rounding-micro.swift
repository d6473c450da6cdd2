// Rounding to hundredths: the old `(x * 100).rounded()` against `JSONWriter.hundredths(of:)`
// (copied here), per call, on a million random values in ±1000, 20 passes each.
//   swiftc -O Benchmarks/relay/rounding-micro.swift -o /tmp/rounding-micro -lm
//   taskset -c 1 /tmp/rounding-micro
// Not a SwiftPM target: a standalone file, so the two run side by side in one binary.
@inline(never) func old(_ x: Double) -> Double { (x * 100).rounded() }
@inline(never) func new(_ number: Double) -> Double {
    let product = number * 100
    // On the magnitude, where subtracting the whole part is exact (below 1, `product + 1`
    // was not: -0.49999999999999994 made a fraction of exactly one half). Ties to even are
    // symmetric, so the sign goes back on at the end.
    let magnitude = product.magnitude
    let whole = magnitude.rounded(.down)
    // A multiple of the product's ulp (at most 1/8 here), where the product's rounding error
    // is at most half of one: only at exactly one half can the error decide. (A select, not a
    // branch: a random fraction mispredicts one half the time, ~5 ns a number.)
    let fraction = magnitude - whole
    guard fraction == 0.5 else { return Double(signOf: product, magnitudeOf: whole + (fraction > 0.5 ? 1 : 0)) }
    // Exact: number × 100 = product + error (a fused multiply-add rounds only its result,
    // which is the product's rounding error, representable).
    let error = (-product).addingProduct(number, 100)
    let outward = product < 0 ? -error : error
    let isOdd = whole.truncatingRemainder(dividingBy: 2) != 0
    let rounded = outward > 0 || (outward == 0 && isOdd) ? whole + 1 : whole  // a true tie: to even
    return Double(signOf: product, magnitudeOf: rounded)
}
var values: [Double] = []
var g: UInt64 = 42
for _ in 0..<1_000_000 {
    g = g &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    values.append(Double(g >> 11) / Double(1 << 53) * 2000 - 1000)
}
for f in [("old", old), ("new", new), ("old", old), ("new", new)] {
    let start = ContinuousClock.now
    var sum = 0.0
    for _ in 0..<20 { for v in values { sum += f.1(v) } }
    print(f.0, (ContinuousClock.now - start) / 20_000_000, sum)
}
