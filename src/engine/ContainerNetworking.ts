export interface ContainerAttachment {
  networkId: string;
  networkName: string;
  /** What the container binds and is reached at: an address in 127.0.0.0/8. */
  address: string;
  /** As Docker shows it: the address in the network's own subnet (the one the user gave, e.g. 159.0.0.5). */
  shownAddress: string;
  prefixLength: number;
  gateway: string;
  aliases: string[];
}

export interface ContainerNetworking {
  /** Refused (ApiError 404 `network X not found`, 403/400 with Docker's words when not attachable) as Docker refuses. */
  attach(request: { containerId: string; containerName: string; network: string; aliases: string[] }): Promise<ContainerAttachment>;
  detach(containerId: string): Promise<void>;
}
