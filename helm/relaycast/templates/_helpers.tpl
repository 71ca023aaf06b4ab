{{- define "relaycast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "relaycast.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "relaycast.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "relaycast.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "relaycast.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "relaycast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* selector labels for a component: include "relaycast.selectorLabels" (dict "ctx" . "component" "edge") */}}
{{- define "relaycast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "relaycast.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "relaycast.componentLabels" -}}
{{ include "relaycast.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "relaycast.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{ printf "%s/%s@%s" .Values.image.registry .Values.image.repository .Values.image.digest }}
{{- else -}}
{{ printf "%s/%s:%s" .Values.image.registry .Values.image.repository $tag }}
{{- end -}}
{{- end -}}

{{- define "relaycast.secretName" -}}
{{- default (printf "%s-secrets" (include "relaycast.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "relaycast.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{ printf "redis://%s-redis:6379" (include "relaycast.fullname" .) }}
{{- else if .Values.externalRedis.sentinel.hosts -}}
{{ printf "redis-sentinel://%s/%s" (join "," .Values.externalRedis.sentinel.hosts) .Values.externalRedis.sentinel.masterName }}
{{- else -}}
{{ .Values.externalRedis.url }}
{{- end -}}
{{- end -}}

{{/* env shared by every relaycast container */}}
{{- define "relaycast.env" -}}
- name: RELAYCAST_NODE_ID
  valueFrom: { fieldRef: { fieldPath: metadata.name } }
- name: RELAYCAST_ADVERTISE_HOST
  valueFrom: { fieldRef: { fieldPath: status.podIP } }
- name: POD_NAMESPACE
  valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
- name: RELAYCAST_CONFIG
  value: /etc/relaycast/config.yaml
{{- if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret }}
- name: RELAYCAST_REDIS_URL
  valueFrom: { secretKeyRef: { name: {{ .Values.externalRedis.existingSecret }}, key: redis-url } }
{{- else }}
- name: RELAYCAST_REDIS_URL
  value: {{ include "relaycast.redisUrl" . | quote }}
{{- end }}
- name: RELAYCAST_PLAY_SECRET
  valueFrom: { secretKeyRef: { name: {{ include "relaycast.secretName" . }}, key: play-secret } }
- name: RELAYCAST_ADMIN_TOKEN
  valueFrom: { secretKeyRef: { name: {{ include "relaycast.secretName" . }}, key: admin-token } }
- name: RELAYCAST_CLUSTER_TOKEN
  valueFrom: { secretKeyRef: { name: {{ include "relaycast.secretName" . }}, key: cluster-token } }
{{- end -}}

{{- define "relaycast.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: admin }
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: { path: /healthz, port: admin }
  periodSeconds: 10
  timeoutSeconds: 3
readinessProbe:
  httpGet: { path: /readyz, port: admin }
  periodSeconds: 3
  timeoutSeconds: 2
  failureThreshold: 2
{{- end -}}

{{- define "relaycast.volumes" -}}
- name: config
  configMap: { name: {{ include "relaycast.fullname" . }}-config }
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "relaycast.volumeMounts" -}}
- { name: config, mountPath: /etc/relaycast, readOnly: true }
- { name: tmp, mountPath: /tmp }
{{- end -}}

{{- define "relaycast.podAnnotations" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}

{{- define "relaycast.topologySpread" -}}
{{- if .values.topologySpreadConstraints }}
{{ toYaml .values.topologySpreadConstraints }}
{{- else }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "relaycast.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
{{- end }}
{{- end -}}

{{/* RTMPS (origins and edges): the listener's flags, its port, and the TLS Secret mounted read-only. */}}
{{- define "relaycast.rtmpsArgs" -}}
- --rtmps-port=1936
- --tls-cert=/etc/relaycast-tls/tls.crt
- --tls-key=/etc/relaycast-tls/tls.key
{{- end -}}

{{- define "relaycast.rtmpsContainerPort" -}}
- { name: rtmps, containerPort: 1936, protocol: TCP }
{{- end -}}

{{- define "relaycast.rtmpsServicePort" -}}
- { name: rtmps, port: {{ .Values.rtmps.port }}, targetPort: rtmps, protocol: TCP }
{{- end -}}

{{/* No subPath: a Secret volume updates in place only without one, and relaycast reloads on change. */}}
{{- define "relaycast.rtmpsVolumeMount" -}}
- { name: tls, mountPath: /etc/relaycast-tls, readOnly: true }
{{- end -}}

{{- define "relaycast.rtmpsVolume" -}}
- name: tls
  secret:
    secretName: {{ required "rtmps.enabled needs rtmps.existingSecret: the name of a kubernetes.io/tls Secret with tls.crt and tls.key" .Values.rtmps.existingSecret }}
    defaultMode: 288 # 0440: owner and fsGroup read
{{- end -}}
