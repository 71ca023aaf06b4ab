// Original file: proto/relaycast/v1/control.proto


export interface RemoveForwardResponse {
}

export interface RemoveForwardResponse__Output {
}
