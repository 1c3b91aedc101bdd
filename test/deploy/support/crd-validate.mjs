// Schema validation of the custom resources (Gateway API, Prometheus Operator, KEDA) with their
// @kubernetes-models packages. Those are ESM-only (kubernetes-models 5), which the CommonJS test run cannot
// require, so k8s-validate.ts runs this file as a child process: JSON objects on stdin, one verdict each on
// stdout (null when valid, else the schema's message).
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import process from 'node:process';

const MODELS = {
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const verdicts = JSON.parse(input).map((o) => {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!Model) return `unknown kind ${o.apiVersion}/${o.kind}`;
    try {
      new Model(o).validate();
      return null;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  });
  process.stdout.write(JSON.stringify(verdicts));
});
