fn main() {
    println!("kernel-packer");
}
