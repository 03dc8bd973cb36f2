-- wrk script: print latency percentiles and error counts as one parsable line.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT p50=%.3f p95=%.3f max=%.3f requests=%d non2xx=%d errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency.max / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
