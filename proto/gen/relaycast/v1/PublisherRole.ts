// Original file: proto/relaycast/v1/control.proto

export const PublisherRole = {
  PUBLISHER_ROLE_UNSPECIFIED: 'PUBLISHER_ROLE_UNSPECIFIED',
  PUBLISHER_ROLE_PRIMARY: 'PUBLISHER_ROLE_PRIMARY',
  PUBLISHER_ROLE_BACKUP: 'PUBLISHER_ROLE_BACKUP',
} as const;

export type PublisherRole =
  | 'PUBLISHER_ROLE_UNSPECIFIED'
  | 0
  | 'PUBLISHER_ROLE_PRIMARY'
  | 1
  | 'PUBLISHER_ROLE_BACKUP'
  | 2

export type PublisherRole__Output = typeof PublisherRole[keyof typeof PublisherRole]
