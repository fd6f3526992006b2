"""Who may do what on the bus: the roles' subject permissions and the nats-server authorization made from them."""
