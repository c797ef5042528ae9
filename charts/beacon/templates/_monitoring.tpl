{{/*
The scrape settings the PodMonitors and ServiceMonitors share, for one component:
(dict "ctx" $ "component" "speaker" "monitor" .Values.prometheus.podMonitor).
job is <fullname>-<component> and speaker series get the node name as `node`: the label set
the rules of monitoring/alerts.yaml expect.
*/}}
{{- define "beacon.scrapeEndpoint" -}}
{{- $m := .monitor -}}
port: monitoring
path: /metrics
{{- with $m.interval }}
interval: {{ . }}
{{- end }}
{{- with $m.metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
relabelings:
  - action: replace
    targetLabel: job
    replacement: {{ include "beacon.fullname" .ctx }}-{{ .component }}
  {{- if eq .component "speaker" }}
  - action: replace
    sourceLabels: [__meta_kubernetes_pod_node_name]
    targetLabel: node
  {{- end }}
  {{- with $m.relabelings }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
